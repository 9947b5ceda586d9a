package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/argoproj/argo-workflows/v4/workflow/hydrator"
	"github.com/argoproj/argo-workflows/v4/workflow/util"
	"github.com/argoproj/argo-workflows/v4/workflow/validate"
)

// front is argo-server's REST API for Workflows, as far as clustercode's client uses it: create,
// get, list by label selector, stop, terminate, delete. It only writes into and reads from the
// stores; what a Workflow does is the controller's business. Validation, stop and terminate are
// the Argo functions argo-server calls for them.
type front struct {
	stores  *Stores
	kubelet *Kubelet
	token   func() (string, error)
	version string
	logf    func(string, ...any)
}

var (
	workflowsPath = regexp.MustCompile(`^/api/v1/workflows/([^/]+)/?$`)
	workflowPath  = regexp.MustCompile(`^/api/v1/workflows/([^/]+)/([^/]+)(?:/(stop|terminate))?$`)
	hookPath      = regexp.MustCompile(`^/harness/v1/workflows/([^/]+)/([^/]+)/(delete-pod|pods|stats)$`)
	podPath       = regexp.MustCompile(`^/harness/v1/pods/([^/]+)/([^/]+)$`)
)

// apiError is argo-server's gRPC-gateway error body.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

var grpcCodes = map[int]int{400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13}

func fail(status int, format string, args ...any) error {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

// kubeError maps a store error as argo-server's ToStatusError does.
func kubeError(err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fail(404, "%s", err.Error())
	case apierrors.IsAlreadyExists(err):
		return fail(409, "%s", err.Error())
	case apierrors.IsConflict(err):
		return fail(409, "%s", err.Error())
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return fail(400, "%s", err.Error())
	}
	return fail(500, "%s", err.Error())
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer, err := f.route(r)
	status := http.StatusOK
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: 500, message: err.Error()}
		}
		status = ae.status
		code, ok := grpcCodes[status]
		if !ok {
			code = 2
		}
		answer = map[string]any{"code": code, "message": ae.message}
	}
	data, _ := json.Marshal(answer)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (f *front) checkToken(r *http.Request) error {
	if f.token == nil {
		return nil
	}
	expected, err := f.token()
	if err != nil {
		return fail(500, "cannot read the token: %v", err)
	}
	given := r.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(given), []byte("Bearer "+expected)) != 1 {
		return fail(401, "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/")
	}
	return nil
}

func (f *front) route(r *http.Request) (any, error) {
	ctx := r.Context()
	path := r.URL.Path
	if err := f.checkToken(r); err != nil {
		return nil, err
	}
	if path == "/api/v1/version" && r.Method == http.MethodGet {
		return map[string]any{"version": f.version}, nil
	}
	if m := workflowsPath.FindStringSubmatch(path); m != nil {
		switch r.Method {
		case http.MethodPost:
			return f.create(ctx, m[1], r.Body)
		case http.MethodGet:
			q := r.URL.Query()
			return f.list(ctx, m[1], q.Get("listOptions.labelSelector"), q.Get("listOptions.limit"), q.Get("listOptions.continue"))
		}
	}
	if m := workflowPath.FindStringSubmatch(path); m != nil {
		ns, name, action := m[1], m[2], m[3]
		client := f.stores.Workflow.ArgoprojV1alpha1().Workflows(ns)
		switch {
		case action == "" && r.Method == http.MethodGet:
			wf, err := client.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, kubeError(err)
			}
			return document(wf), nil
		case action == "" && r.Method == http.MethodDelete:
			if err := f.delete(ctx, ns, name); err != nil {
				return nil, err
			}
			return map[string]any{}, nil
		case action != "" && r.Method == http.MethodPut:
			return f.shutdown(ctx, ns, name, action)
		}
	}
	if m := hookPath.FindStringSubmatch(path); m != nil {
		return f.hook(ctx, r, m[1], m[2], m[3])
	}
	if m := podPath.FindStringSubmatch(path); m != nil && r.Method == http.MethodDelete {
		err := f.stores.Kube.CoreV1().Pods(m[1]).Delete(ctx, m[2], metav1.DeleteOptions{})
		if err != nil {
			return nil, kubeError(err)
		}
		return map[string]any{}, nil
	}
	return nil, fail(404, "the harness does not serve %s %s", r.Method, path)
}

func document(wf *wfv1.Workflow) *wfv1.Workflow {
	wf.APIVersion = wfv1.SchemeGroupVersion.String()
	wf.Kind = "Workflow"
	return wf
}

type noTemplates struct{}

func (noTemplates) Get(_ context.Context, name string) (*wfv1.WorkflowTemplate, error) {
	return nil, fmt.Errorf("workflow template %q not found", name)
}

type noClusterTemplates struct{}

func (noClusterTemplates) Get(_ context.Context, name string) (*wfv1.ClusterWorkflowTemplate, error) {
	return nil, fmt.Errorf("cluster workflow template %q not found", name)
}

func (f *front) create(ctx context.Context, ns string, body io.Reader) (any, error) {
	var req struct {
		Workflow     *wfv1.Workflow `json:"workflow"`
		ServerDryRun bool           `json:"serverDryRun"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		return nil, fail(400, "request body: %v", err)
	}
	wf := req.Workflow
	if wf == nil {
		return nil, fail(400, "workflow body not specified")
	}
	if wf.Namespace == "" {
		wf.Namespace = ns
	}
	if err := validate.ValidateWorkflow(ctx, noTemplates{}, noClusterTemplates{}, wf, nil, validate.ValidateOpts{}); err != nil {
		return nil, fail(400, "%s", err.Error())
	}
	if req.ServerDryRun {
		return document(wf), nil
	}
	created, err := f.stores.Workflow.ArgoprojV1alpha1().Workflows(ns).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		return nil, kubeError(err)
	}
	f.logf("workflow %s/%s created", ns, created.Name)
	return document(created), nil
}

func (f *front) list(ctx context.Context, ns, selector, limitText, cont string) (any, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fail(400, "labelSelector: %v", err)
	}
	list, err := f.stores.Workflow.ArgoprojV1alpha1().Workflows(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, kubeError(err)
	}
	items := []wfv1.Workflow{}
	for _, wf := range list.Items {
		if sel.Matches(labels.Set(wf.Labels)) {
			items = append(items, wf)
		}
	}
	// Newest first, as argo-server lists them.
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].CreationTimestamp, items[j].CreationTimestamp
		if !a.Equal(&b) {
			return b.Before(&a)
		}
		return items[i].Name > items[j].Name
	})
	start := 0
	if cont != "" {
		if start, err = strconv.Atoi(cont); err != nil || start < 0 {
			return nil, fail(400, "listOptions.continue: %q is not a continue token of this server", cont)
		}
	}
	end := len(items)
	if limit, err := strconv.Atoi(limitText); err == nil && limit > 0 && start+limit < end {
		end = start + limit
	}
	if start > len(items) {
		start = len(items)
	}
	page := items[start:end]
	for i := range page {
		document(&page[i])
	}
	meta := map[string]any{"resourceVersion": list.ResourceVersion}
	if end < len(items) {
		meta["continue"] = strconv.Itoa(end)
	}
	return map[string]any{"metadata": meta, "items": page}, nil
}

func (f *front) shutdown(ctx context.Context, ns, name, action string) (any, error) {
	client := f.stores.Workflow.ArgoprojV1alpha1().Workflows(ns)
	var err error
	if action == "stop" {
		err = util.StopWorkflow(ctx, client, hydrator.New(nil), name, "", "")
	} else {
		err = util.TerminateWorkflow(ctx, client, name)
	}
	if err != nil {
		var done util.AlreadyShutdownError
		if errors.As(err, &done) {
			return nil, fail(500, "%s", err.Error())
		}
		return nil, kubeError(err)
	}
	wf, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, kubeError(err)
	}
	f.logf("workflow %s/%s: %s requested", ns, name, action)
	return document(wf), nil
}

// delete removes the Workflow and, as Kubernetes' garbage collector does for objects it owns,
// its pods and task results.
func (f *front) delete(ctx context.Context, ns, name string) error {
	client := f.stores.Workflow.ArgoprojV1alpha1().Workflows(ns)
	wf, err := client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return kubeError(err)
	}
	if err := client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return kubeError(err)
	}
	selector := common.LabelKeyWorkflow + "=" + name
	pods, _ := f.stores.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	for _, p := range pods.Items {
		if owned(p.OwnerReferences, wf.UID) {
			_ = f.stores.Kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
		}
	}
	results, _ := f.stores.Workflow.ArgoprojV1alpha1().WorkflowTaskResults(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	for _, tr := range results.Items {
		if owned(tr.OwnerReferences, wf.UID) {
			_ = f.stores.Workflow.ArgoprojV1alpha1().WorkflowTaskResults(ns).Delete(ctx, tr.Name, metav1.DeleteOptions{})
		}
	}
	f.logf("workflow %s/%s deleted", ns, name)
	return nil
}

func owned(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, ref := range refs {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

func (f *front) hook(ctx context.Context, r *http.Request, ns, name, what string) (any, error) {
	switch {
	case what == "delete-pod" && r.Method == http.MethodPut:
		var rule deleteRule
		if err := json.NewDecoder(r.Body).Decode(&rule); err != nil {
			return nil, fail(400, "request body: %v", err)
		}
		if rule.Task == "" {
			return nil, fail(400, "delete-pod needs a task")
		}
		rule.Namespace, rule.Workflow = ns, name
		f.kubelet.addRule(ctx, rule)
		return map[string]any{}, nil
	case what == "pods" && r.Method == http.MethodGet:
		return f.kubelet.security.list(ns, name), nil
	case what == "stats" && r.Method == http.MethodGet:
		return f.kubelet.stats.snapshot(ns, name), nil
	}
	return nil, fail(404, "the harness does not serve %s %s", r.Method, r.URL.Path)
}

func tokenSource(token, tokenFile string) func() (string, error) {
	switch {
	case token != "":
		return func() (string, error) { return token, nil }
	case tokenFile != "":
		return func() (string, error) {
			data, err := os.ReadFile(tokenFile)
			return strings.TrimSpace(string(data)), err
		}
	}
	return nil
}

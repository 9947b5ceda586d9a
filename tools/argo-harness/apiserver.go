package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
)

// apiServer answers the few Kubernetes API calls the controller makes over its REST config
// rather than through the clientsets it is given: its dynamic client lists and watches Workflows
// (and templates, none here), and it stops containers by exec'ing `kill` in them, which the
// process kubelet turns into a signal to the process.
type apiServer struct {
	stores  *Stores
	kubelet *Kubelet
	logf    func(string, ...any)
}

var (
	argoList = regexp.MustCompile(`^/apis/argoproj\.io/v1alpha1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<kind>workflows|workflowtemplates|clusterworkflowtemplates|cronworkflows|workfloweventbindings)$`)
	podExec  = regexp.MustCompile(`^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/exec$`)
	killArgs = regexp.MustCompile(`(?:^|[ /])(?:argoexec )?kill -?(\d+) 1$`)
)

var listKinds = map[string]string{
	"workflows":                "WorkflowList",
	"workflowtemplates":        "WorkflowTemplateList",
	"clusterworkflowtemplates": "ClusterWorkflowTemplateList",
	"cronworkflows":            "CronWorkflowList",
	"workfloweventbindings":    "WorkflowEventBindingList",
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := argoList.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		ns, kind := m[1], m[2]
		selector, err := labels.Parse(r.URL.Query().Get("labelSelector"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
			a.watch(w, r, ns, kind, selector)
			return
		}
		a.list(w, r, ns, kind, selector)
		return
	}
	if m := podExec.FindStringSubmatch(r.URL.Path); m != nil {
		a.exec(w, r, m[1], m[2])
		return
	}
	a.logf("controller API: %s %s is not served", r.Method, r.URL.String())
	http.Error(w, "not served by the harness", http.StatusNotFound)
}

func typed(obj runtime.Object) map[string]any {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil
	}
	u["apiVersion"] = wfv1.SchemeGroupVersion.String()
	u["kind"] = "Workflow"
	return u
}

func (a *apiServer) list(w http.ResponseWriter, r *http.Request, ns, kind string, selector labels.Selector) {
	items := []map[string]any{}
	a.stores.rev.mu.Lock()
	rv := strconv.FormatUint(a.stores.rev.next, 10)
	a.stores.rev.mu.Unlock()
	if kind == "workflows" {
		list, err := a.stores.Workflow.ArgoprojV1alpha1().Workflows(ns).List(r.Context(), metav1.ListOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for i := range list.Items {
			if selector.Matches(labels.Set(list.Items[i].Labels)) {
				items = append(items, typed(&list.Items[i]))
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": wfv1.SchemeGroupVersion.String(),
		"kind":       listKinds[kind],
		"metadata":   map[string]any{"resourceVersion": rv},
		"items":      items,
	})
}

func (a *apiServer) watch(w http.ResponseWriter, r *http.Request, ns, kind string, selector labels.Selector) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	if kind != "workflows" {
		<-r.Context().Done()
		return
	}
	watcher, err := a.stores.wfTrack.Watch(workflowsGVR, ns)
	if err != nil {
		return
	}
	defer watcher.Stop()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-watcher.ResultChan():
			if !ok {
				return
			}
			wf, isWf := e.Object.(*wfv1.Workflow)
			if !isWf {
				continue
			}
			typ := e.Type
			if !selector.Matches(labels.Set(wf.Labels)) {
				if typ != watch.Modified {
					continue
				}
				typ = watch.Deleted
			}
			if err := enc.Encode(map[string]any{"type": string(typ), "object": typed(wf)}); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// exec runs `kill -N 1` or `argoexec kill N 1` in a pod: a signal to its main process.
func (a *apiServer) exec(w http.ResponseWriter, r *http.Request, ns, name string) {
	command := r.URL.Query()["command"]
	sig := 0
	if m := killArgs.FindStringSubmatch(strings.Join(command, " ")); m != nil {
		sig, _ = strconv.Atoi(m[1])
	}
	if sig == 0 {
		a.logf("exec in pod %s/%s: %v is not a kill command", ns, name, command)
		http.Error(w, "the process kubelet only executes kill", http.StatusBadRequest)
		return
	}
	if !a.kubelet.signal(ns, name, syscall.Signal(sig)) {
		http.Error(w, "pod not running", http.StatusNotFound)
		return
	}
	// The signal is delivered; no stream is opened (the controller ignores exec output).
	http.Error(w, "signal delivered; the process kubelet opens no exec stream", http.StatusGone)
}

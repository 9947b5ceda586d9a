package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
)

// Kubelet runs the main container of every pod the controller creates as a local process and
// reports back as a node's kubelet and argoexec's wait container would: pod phase and container
// states from the process, outputs through a WorkflowTaskResult (argoexec's own code, see
// wait.go). A deleted pod's process is killed.
type Kubelet struct {
	stores   *Stores
	claims   map[string]string
	scratch  string
	slots    chan struct{} // nil: no limit
	grace    time.Duration
	logf     func(format string, args ...any)
	mu       sync.Mutex
	pods     map[string]*podRun // key namespace/name
	rules    []deleteRule
	stats    *Stats
	started  map[string]bool
	security *SecurityLog
	stopped  chan struct{}
}

type podRun struct {
	key      string
	pod      *corev1.Pod
	cancel   context.CancelFunc
	proc     *os.Process
	done     chan struct{}
	deleted  bool
	exited   bool
	info     podInfo
	signalMu sync.Mutex
}

type podInfo struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Workflow  string            `json:"workflow"`
	Template  string            `json:"template"`
	Task      string            `json:"task"`
	Node      string            `json:"node"`
	Attempt   int               `json:"attempt"`
	Params    map[string]string `json:"parameters"`
}

// deleteRule deletes the pod of one task attempt as soon as it runs (plus a delay).
type deleteRule struct {
	Namespace  string            `json:"-"`
	Workflow   string            `json:"-"`
	Task       string            `json:"task"`
	Attempt    int               `json:"attempt"`
	Parameters map[string]string `json:"parameters"`
	After      float64           `json:"after_seconds"`
	Signal     string            `json:"-"`
	used       bool
}

func podKey(ns, name string) string { return ns + "/" + name }

func newKubelet(stores *Stores, claims map[string]string, scratch string, maxParallel int, grace time.Duration, logf func(string, ...any)) *Kubelet {
	k := &Kubelet{
		stores:   stores,
		claims:   claims,
		scratch:  scratch,
		grace:    grace,
		logf:     logf,
		pods:     map[string]*podRun{},
		stats:    newStats(),
		started:  map[string]bool{},
		security: newSecurityLog(),
		stopped:  make(chan struct{}),
	}
	if maxParallel > 0 {
		k.slots = make(chan struct{}, maxParallel)
	}
	return k
}

// Run watches pods until ctx ends, then kills every process.
func (k *Kubelet) Run(ctx context.Context) {
	defer close(k.stopped)
	factory := informers.NewSharedInformerFactory(k.stores.Kube, 0)
	informer := factory.Core().V1().Pods().Informer()
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { k.admit(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) {
			if pod := obj.(*corev1.Pod); pod.DeletionTimestamp != nil {
				k.terminate(pod)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				k.deleted(pod)
			}
		},
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	k.mu.Lock()
	runs := make([]*podRun, 0, len(k.pods))
	for _, r := range k.pods {
		runs = append(runs, r)
	}
	k.mu.Unlock()
	for _, r := range runs {
		k.kill(r, syscall.SIGKILL)
		<-r.done
	}
}

// wait returns once Run has killed every process (at most 10 s).
func (k *Kubelet) wait() {
	select {
	case <-k.stopped:
	case <-time.After(10 * time.Second):
	}
}

var attemptSuffix = regexp.MustCompile(`\((\d+)\)$`)

func describe(pod *corev1.Pod) podInfo {
	info := podInfo{Namespace: pod.Namespace, Name: pod.Name, Workflow: pod.Labels[common.LabelKeyWorkflow], Params: map[string]string{}}
	info.Node = pod.Annotations[common.AnnotationKeyNodeName]
	if rest, ok := strings.CutPrefix(info.Node, info.Workflow+"."); ok {
		info.Task, _, _ = strings.Cut(rest, "(")
	}
	if m := attemptSuffix.FindStringSubmatch(info.Node); m != nil {
		_, _ = fmt.Sscan(m[1], &info.Attempt)
	}
	if tmpl, err := podTemplate(pod); err == nil {
		info.Template = tmpl.Name
	}
	return info
}

func mainContainer(pod *corev1.Pod) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == common.MainContainerName {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// podEnv is a variable the controller sets for argoexec: on the wait container, or the init one.
func podEnv(pod *corev1.Pod, name string) string {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if v := envValue(&list[i], name); v != "" {
				return v
			}
		}
	}
	return ""
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// podTemplate is the template argoexec reads from ARGO_TEMPLATE.
func podTemplate(pod *corev1.Pod) (*wfv1.Template, error) {
	c := mainContainer(pod)
	if c == nil {
		return nil, fmt.Errorf("pod %s has no main container", pod.Name)
	}
	raw := podEnv(pod, common.EnvVarTemplate)
	if raw == common.EnvVarTemplateOffloaded {
		return nil, fmt.Errorf("pod %s: offloaded templates are not supported", pod.Name)
	}
	var tmpl wfv1.Template
	if err := json.Unmarshal([]byte(raw), &tmpl); err != nil {
		return nil, fmt.Errorf("pod %s: %s: %w", pod.Name, common.EnvVarTemplate, err)
	}
	return &tmpl, nil
}

func (k *Kubelet) admit(ctx context.Context, pod *corev1.Pod) {
	if pod.Status.Phase != "" && pod.Status.Phase != corev1.PodPending {
		return
	}
	key := podKey(pod.Namespace, pod.Name)
	k.mu.Lock()
	if k.started[string(pod.UID)] {
		k.mu.Unlock()
		return
	}
	k.started[string(pod.UID)] = true
	info := describe(pod)
	runCtx, cancel := context.WithCancel(ctx)
	r := &podRun{key: key, pod: pod.DeepCopy(), cancel: cancel, done: make(chan struct{}), info: info}
	k.pods[key] = r
	k.mu.Unlock()
	k.security.check(pod, info, k.logf)
	go k.run(runCtx, r)
}

func (k *Kubelet) deleted(pod *corev1.Pod) {
	k.mu.Lock()
	key := podKey(pod.Namespace, pod.Name)
	r := k.pods[key]
	if r != nil && r.pod.UID != pod.UID {
		r = nil // a pod of the same name created since
	}
	if r != nil {
		r.deleted = true
		delete(k.pods, key)
	}
	k.mu.Unlock()
	if r != nil {
		k.logf("pod %s deleted: killing its process", r.key)
		k.kill(r, syscall.SIGKILL)
		r.cancel()
	}
}

// terminate stops a pod being deleted gracefully: SIGTERM to its process, SIGKILL after the
// grace, argoexec finalises its task result, then the pod object is removed (see runPod). A pod
// whose process is not running is removed at once.
func (k *Kubelet) terminate(pod *corev1.Pod) {
	k.mu.Lock()
	r := k.pods[podKey(pod.Namespace, pod.Name)]
	if r != nil && r.pod.UID != pod.UID {
		r = nil
	}
	running := r != nil && r.proc != nil && !r.exited
	if r != nil {
		r.deleted = true
	}
	k.mu.Unlock()
	if !running {
		if r != nil {
			r.cancel()
		}
		k.remove(pod)
		return
	}
	k.logf("pod %s is being deleted: stopping its process", r.key)
	k.kill(r, syscall.SIGCONT)
	k.kill(r, syscall.SIGTERM)
	go func() {
		select {
		case <-r.done:
		case <-time.After(k.grace):
			k.kill(r, syscall.SIGKILL)
		}
	}()
}

// remove deletes the pod object for good (grace period 0), as the kubelet does once its
// containers are stopped.
func (k *Kubelet) remove(pod *corev1.Pod) {
	zero := int64(0)
	_ = k.stores.Kube.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
}

func (k *Kubelet) kill(r *podRun, sig syscall.Signal) {
	r.signalMu.Lock()
	defer r.signalMu.Unlock()
	if r.proc != nil {
		_ = syscall.Kill(-r.proc.Pid, sig)
	}
}

// signal delivers a signal to a pod's main process, as `kill` exec'd in the container would.
func (k *Kubelet) signal(ns, name string, sig syscall.Signal) bool {
	k.mu.Lock()
	r := k.pods[podKey(ns, name)]
	k.mu.Unlock()
	if r == nil {
		return false
	}
	k.logf("pod %s/%s: signal %d", ns, name, sig)
	k.kill(r, sig)
	return true
}

func (k *Kubelet) updateStatus(ctx context.Context, r *podRun, mutate func(*corev1.PodStatus)) error {
	pods := k.stores.Kube.CoreV1().Pods(r.pod.Namespace)
	for {
		pod, err := pods.Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(&pod.Status)
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		return err
	}
}

func containerStatuses(pod *corev1.Pod, main corev1.ContainerState, wait corev1.ContainerState) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range pod.Spec.Containers {
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: "process://" + pod.Name + "/" + c.Name}
		switch c.Name {
		case common.MainContainerName:
			st.State = main
		default:
			st.State = wait
		}
		st.Ready = st.State.Running != nil
		st.Started = &st.Ready
		out = append(out, st)
	}
	return out
}

func initStatuses(pod *corev1.Pod, at metav1.Time) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range pod.Spec.InitContainers {
		out = append(out, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: "process://" + pod.Name + "/" + c.Name,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: at, FinishedAt: at}},
		})
	}
	return out
}

func (k *Kubelet) matchRule(r *podRun) *deleteRule {
	k.mu.Lock()
	defer k.mu.Unlock()
	info := r.info
	for i := range k.rules {
		rule := &k.rules[i]
		if rule.used || rule.Namespace != info.Namespace || rule.Workflow != info.Workflow || (rule.Task != info.Template && rule.Task != info.Task) || rule.Attempt != info.Attempt {
			continue
		}
		ok := true
		for name, value := range rule.Parameters {
			if info.Params[name] != value {
				ok = false
			}
		}
		if ok {
			rule.used = true
			return rule
		}
	}
	return nil
}

// addRule arms a delete rule; a pod already running that matches is deleted now.
func (k *Kubelet) addRule(ctx context.Context, rule deleteRule) {
	k.mu.Lock()
	k.rules = append(k.rules, rule)
	var running []*podRun
	for _, r := range k.pods {
		if r.proc != nil {
			running = append(running, r)
		}
	}
	k.mu.Unlock()
	for _, r := range running {
		select {
		case <-r.done:
			continue
		default:
		}
		if matched := k.matchRule(r); matched != nil {
			go k.applyRule(ctx, r, *matched)
		}
	}
}

func (k *Kubelet) run(ctx context.Context, r *podRun) {
	defer close(r.done)
	defer r.cancel()
	if k.slots != nil {
		select {
		case k.slots <- struct{}{}:
			defer func() { <-k.slots }()
		case <-ctx.Done():
			return
		}
	}
	err := k.runPod(ctx, r)
	if err != nil && ctx.Err() == nil {
		k.logf("pod %s: %v", r.key, err)
	}
}

// runPod is the pod's life: prepare volumes, start the process, report outputs, set the phase.
func (k *Kubelet) runPod(ctx context.Context, r *podRun) error {
	pod := r.pod
	main := mainContainer(pod)
	if main == nil {
		return k.failPod(ctx, r, "no main container")
	}
	tmpl, err := podTemplate(pod)
	if err != nil {
		return k.failPod(ctx, r, err.Error())
	}
	mounts, err := k.mounts(pod, main)
	if err != nil {
		return k.failPod(ctx, r, err.Error())
	}
	argv := mounts.mapAll(stripExecutor(append(append([]string{}, main.Command...), main.Args...)))
	if len(argv) == 0 {
		return k.failPod(ctx, r, "no command")
	}
	env := k.environment(pod, main, mounts)
	dir := mounts.mapPath(main.WorkingDir)
	if dir == "" {
		dir = filepath.Join(k.scratch, "pods", pod.Namespace, pod.Name, "cwd")
		_ = os.MkdirAll(dir, 0o755)
	}
	logPath := filepath.Join(k.scratch, "pods", pod.Namespace, pod.Name, "main.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()

	rt := &processRuntime{mounts: mounts, logPath: logPath, kubelet: k, run: r}
	we := newWaitExecutor(ctx, k.stores, pod, main, tmpl, rt)
	we.InitializeOutput(ctx)

	cmd := exec.Command(argv[0], argv[1:]...)
	if !strings.Contains(argv[0], "/") {
		if path, err := lookPath(argv[0], env); err == nil {
			cmd.Path = path
		}
	}
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := metav1.Now()
	r.signalMu.Lock()
	if ctx.Err() != nil {
		r.signalMu.Unlock()
		return ctx.Err()
	}
	startErr := cmd.Start()
	if startErr == nil {
		r.proc = cmd.Process
	}
	r.signalMu.Unlock()
	if startErr != nil {
		return k.failPod(ctx, r, fmt.Sprintf("cannot start %s: %v", argv[0], startErr))
	}
	k.stats.started(r.info)
	k.logf("pod %s: started %q in %s", r.key, argv, dir)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); close(rt.exited()) }()

	err = k.updateStatus(ctx, r, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.PodIP = "127.0.0.1"
		s.HostIP = "127.0.0.1"
		s.StartTime = &start
		s.InitContainerStatuses = initStatuses(pod, start)
		s.ContainerStatuses = containerStatuses(pod,
			corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
			corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}})
	})
	if err != nil {
		k.kill(r, syscall.SIGKILL)
	}
	k.nodeInputs(ctx, r)
	if rule := k.matchRule(r); rule != nil {
		go k.applyRule(ctx, r, *rule)
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		k.watchProgress(ctx, r, rt.exited(), mounts)
	}()

	waitErr := <-waited
	<-progressDone
	k.mu.Lock()
	r.exited = true
	k.mu.Unlock()
	k.stats.finished(r.info)
	exitCode := 0
	if cmd.ProcessState != nil {
		exitCode = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exitCode = 128 + int(ws.Signal())
		}
	} else if waitErr != nil {
		exitCode = 1
	}
	k.mu.Lock()
	deleted := r.deleted
	k.mu.Unlock()
	if ctx.Err() != nil {
		return nil // the harness stops
	}
	if deleted {
		// argoexec's wait container, signalled too, still reports and finalises the task result
		// before the pod is gone.
		reportOutputs(context.WithoutCancel(ctx), we)
		k.remove(r.pod)
		return nil
	}
	finished := metav1.Now()
	reason := "Completed"
	if exitCode != 0 {
		reason = "Error"
		k.logf("pod %s: exit status %d; its output ends:\n%s", r.key, exitCode, tail(logPath, 2000))
	}
	mainState := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: int32(exitCode), Reason: reason, StartedAt: start, FinishedAt: finished,
	}}
	if err := k.updateStatus(ctx, r, func(s *corev1.PodStatus) {
		s.ContainerStatuses = containerStatuses(pod, mainState,
			corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}})
	}); err != nil {
		return err
	}
	// The wait container: argoexec's own output capture and report.
	reportOutputs(ctx, we)
	waitState := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 0, Reason: "Completed", StartedAt: start, FinishedAt: metav1.Now(),
	}}
	phase := corev1.PodSucceeded
	if exitCode != 0 {
		phase = corev1.PodFailed
	}
	return k.updateStatus(ctx, r, func(s *corev1.PodStatus) {
		s.Phase = phase
		s.ContainerStatuses = containerStatuses(pod, mainState, waitState)
	})
}

// applyRule deletes a pod "mid-run": its process is frozen (SIGSTOP) until Argo's status shows
// the node Running, so the controller knows the pod ran, then the pod is deleted (after
// after_seconds) as `kubectl delete pod` would, which kills the process.
func (k *Kubelet) applyRule(ctx context.Context, r *podRun, rule deleteRule) {
	k.kill(r, syscall.SIGSTOP)
	nodeID := podEnv(r.pod, common.EnvVarNodeID)
	// Past Argo's grace for a pod missing right after its node started (then it would create
	// the pod again instead of failing the attempt).
	grace, err := time.ParseDuration(os.Getenv("RECENTLY_STARTED_POD_DURATION"))
	if err != nil {
		grace = 10 * time.Second
	}
	deadline := time.Now().Add(30*time.Second + grace)
	for time.Now().Before(deadline) {
		wf, err := k.stores.Workflow.ArgoprojV1alpha1().Workflows(r.pod.Namespace).Get(ctx, r.info.Workflow, metav1.GetOptions{})
		if err == nil {
			node := wf.Status.Nodes[nodeID]
			if node.Phase == wfv1.NodeRunning && time.Since(node.StartedAt.Time) > grace+200*time.Millisecond {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case <-time.After(time.Duration(rule.After * float64(time.Second))):
	case <-ctx.Done():
		return
	}
	k.logf("pod %s: deleting it as asked (task %s attempt %d)", r.key, rule.Task, rule.Attempt)
	_ = k.stores.Kube.CoreV1().Pods(r.pod.Namespace).Delete(context.Background(), r.pod.Name, metav1.DeleteOptions{})
}

func (k *Kubelet) failPod(ctx context.Context, r *podRun, message string) error {
	k.logf("pod %s: %s", r.key, message)
	return k.updateStatus(ctx, r, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.Message = message
		s.Reason = "HarnessError"
	})
}

// nodeInputs reads the input parameters of the pod's node from the Workflow's status (argoexec's
// ARGO_TEMPLATE leaves them out), so delete rules can name a slice by its parameters.
func (k *Kubelet) nodeInputs(ctx context.Context, r *podRun) {
	nodeID := podEnv(r.pod, common.EnvVarNodeID)
	for try := 0; try < 20 && ctx.Err() == nil; try++ {
		wf, err := k.stores.Workflow.ArgoprojV1alpha1().Workflows(r.pod.Namespace).Get(ctx, r.info.Workflow, metav1.GetOptions{})
		if err == nil {
			if node, ok := wf.Status.Nodes[nodeID]; ok {
				params := map[string]string{}
				if node.Inputs != nil {
					for _, p := range node.Inputs.Parameters {
						if p.Value != nil {
							params[p.Name] = p.Value.String()
						}
					}
				}
				k.mu.Lock()
				r.info.Params = params
				k.mu.Unlock()
				k.security.setParams(r.key, params)
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stripExecutor removes the `argoexec emissary ... --` prefix the controller puts before the
// container's own command.
func stripExecutor(argv []string) []string {
	if len(argv) > 1 && strings.HasSuffix(argv[0], "/argoexec") && argv[1] == "emissary" {
		for i, a := range argv {
			if a == "--" {
				return argv[i+1:]
			}
		}
	}
	return argv
}

func lookPath(name string, env []string) (string, error) {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			for _, dir := range filepath.SplitList(strings.TrimPrefix(e, "PATH=")) {
				p := filepath.Join(dir, name)
				if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					return p, nil
				}
			}
		}
	}
	return exec.LookPath(name)
}

// environment: the harness's own environment stands in for the image's, then the container's.
func (k *Kubelet) environment(pod *corev1.Pod, c *corev1.Container, mounts *mountTable) []string {
	values := map[string]string{}
	var order []string
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			order = append(order, name)
		}
		values[name] = value
	}
	for _, e := range os.Environ() {
		name, value, _ := strings.Cut(e, "=")
		set(name, value)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				set(e.Name, pod.Name)
			case "metadata.namespace":
				set(e.Name, pod.Namespace)
			case "metadata.uid":
				set(e.Name, string(pod.UID))
			case "spec.nodeName":
				set(e.Name, "process-kubelet")
			}
		case e.ValueFrom != nil:
			continue
		default:
			set(e.Name, mounts.mapPath(e.Value))
		}
	}
	out := make([]string, 0, len(order))
	for _, name := range order {
		out = append(out, name+"="+values[name])
	}
	return out
}

// watchProgress is argoexec's progress monitor: the last `N/M` line of ARGO_PROGRESS_FILE,
// read every second (and once more when the process has exited), goes to the task result.
func (k *Kubelet) watchProgress(ctx context.Context, r *podRun, exited <-chan struct{}, mounts *mountTable) {
	path := mounts.mapPath(podEnv(r.pod, common.EnvVarProgressFile))
	if path == "" {
		return
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-exited:
			k.reportProgress(ctx, r, path, last)
			return
		case <-ticker.C:
			last = k.reportProgress(ctx, r, path, last)
		}
	}
}

func (k *Kubelet) reportProgress(ctx context.Context, r *podRun, path, last string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return last
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	progress, ok := wfv1.ParseProgress(line)
	if !ok || line == last {
		return last
	}
	patch := map[string]any{"progress": string(progress)}
	if err := patchTaskResult(ctx, k.stores, r.pod.Namespace, podEnv(r.pod, common.EnvVarNodeID), patch); err != nil {
		k.logf("pod %s: progress: %v", r.key, err)
	}
	return line
}

func (r *podRun) doneSignal() <-chan struct{} { return r.done }

func logger(verbose bool) func(string, ...any) {
	if !verbose {
		return func(string, ...any) {}
	}
	return log.Printf
}

// tail is the end of a file, for the log.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, 0)
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

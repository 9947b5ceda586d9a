package main

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
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
	Hold       bool              `json:"hold"` // freeze the process and keep the pod (no delete)
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
	k.kill(r, syscall.SIGCONT) // a process held by a test rule handles it too
	return true
}

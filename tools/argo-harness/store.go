package main

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	wffake "github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned/fake"
	wfscheme "github.com/argoproj/argo-workflows/v4/pkg/client/clientset/versioned/scheme"
)

// The client-go object tracker does what an API server's storage does for a test, except three
// things a controller relies on: resource versions (Argo skips informer updates whose version did
// not change and relies on conflicts for optimistic concurrency), UIDs and creation times, and
// watches that never drop an event. versionedTracker adds them around the stock tracker.

// revision is the resource version counter shared by every store of the harness.
type revision struct {
	mu   sync.Mutex
	next uint64
}

func (r *revision) bump() string {
	r.next++
	return strconv.FormatUint(r.next, 10)
}

type watcher struct {
	gvr    schema.GroupVersionResource
	ns     string
	queue  *eventQueue
	result chan watch.Event
}

// eventQueue is an unbounded FIFO feeding a watch channel: a slow reader never blocks a writer
// and never loses an event.
type eventQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	events  []watch.Event
	stopped bool
}

func newEventQueue() *eventQueue {
	q := &eventQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *eventQueue) push(e watch.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.stopped {
		q.events = append(q.events, e)
		q.cond.Signal()
	}
}

func (q *eventQueue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	q.cond.Broadcast()
}

func (q *eventQueue) pump(out chan<- watch.Event, done <-chan struct{}) {
	defer close(out)
	for {
		q.mu.Lock()
		for len(q.events) == 0 && !q.stopped {
			q.cond.Wait()
		}
		if q.stopped {
			q.mu.Unlock()
			return
		}
		e := q.events[0]
		q.events = q.events[1:]
		q.mu.Unlock()
		select {
		case out <- e:
		case <-done:
			return
		}
	}
}

type trackerWatch struct {
	w    *watcher
	t    *versionedTracker
	done chan struct{}
	once sync.Once
}

func (tw *trackerWatch) Stop() {
	tw.once.Do(func() {
		tw.t.removeWatcher(tw.w)
		tw.w.queue.stop()
		close(tw.done)
	})
}

func (tw *trackerWatch) ResultChan() <-chan watch.Event { return tw.w.result }

type versionedTracker struct {
	clienttesting.ObjectTracker
	rev      *revision
	mu       sync.Mutex // serialises writes, so version checks and events are in order
	watchMu  sync.Mutex
	watchers map[*watcher]struct{}
}

func newVersionedTracker(inner clienttesting.ObjectTracker, rev *revision) *versionedTracker {
	return &versionedTracker{ObjectTracker: inner, rev: rev, watchers: map[*watcher]struct{}{}}
}

func (t *versionedTracker) removeWatcher(w *watcher) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	delete(t.watchers, w)
}

func (t *versionedTracker) emit(gvr schema.GroupVersionResource, ns string, typ watch.EventType, obj runtime.Object) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	for w := range t.watchers {
		if w.gvr == gvr && (w.ns == "" || w.ns == ns) {
			w.queue.push(watch.Event{Type: typ, Object: obj.DeepCopyObject()})
		}
	}
}

func (t *versionedTracker) Watch(gvr schema.GroupVersionResource, ns string, _ ...metav1.ListOptions) (watch.Interface, error) {
	w := &watcher{gvr: gvr, ns: ns, queue: newEventQueue(), result: make(chan watch.Event)}
	tw := &trackerWatch{w: w, t: t, done: make(chan struct{})}
	t.watchMu.Lock()
	t.watchers[w] = struct{}{}
	t.watchMu.Unlock()
	go w.queue.pump(w.result, tw.done)
	return tw, nil
}

func (t *versionedTracker) stamp(obj runtime.Object) (metav1.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	t.rev.mu.Lock()
	m.SetResourceVersion(t.rev.bump())
	t.rev.mu.Unlock()
	return m, nil
}

func (t *versionedTracker) Add(obj runtime.Object) error {
	return fmt.Errorf("the harness stores start empty")
}

func (t *versionedTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, err := t.stamp(obj)
	if err != nil {
		return err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + rand.String(5))
	}
	if m.GetUID() == "" {
		m.SetUID(types.UID(uuid.NewUUID()))
	}
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.NewTime(time.Now()))
	}
	if m.GetNamespace() == "" {
		m.SetNamespace(ns)
	}
	// As the API server's pod strategy does: a new pod is Pending.
	if pod, ok := obj.(*corev1.Pod); ok {
		pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable}
	}
	if err := t.ObjectTracker.Create(gvr, obj, ns, opts...); err != nil {
		return err
	}
	t.emit(gvr, ns, watch.Added, obj)
	return nil
}

func (t *versionedTracker) write(gvr schema.GroupVersionResource, obj runtime.Object, ns string, apply func() error) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	current, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	cm, _ := meta.Accessor(current)
	if rv := m.GetResourceVersion(); rv != "" && rv != cm.GetResourceVersion() {
		return apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	m.SetUID(cm.GetUID())
	m.SetCreationTimestamp(cm.GetCreationTimestamp())
	if _, err := t.stamp(obj); err != nil {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	t.emit(gvr, ns, watch.Modified, obj)
	return nil
}

func (t *versionedTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.write(gvr, obj, ns, func() error { return t.ObjectTracker.Update(gvr, obj, ns, opts...) })
}

func (t *versionedTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.write(gvr, obj, ns, func() error { return t.ObjectTracker.Patch(gvr, obj, ns, opts...) })
}

func (t *versionedTracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	current, err := t.ObjectTracker.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	for _, o := range opts {
		if o.Preconditions != nil && o.Preconditions.UID != nil {
			cm, _ := meta.Accessor(current)
			if cm.GetUID() != *o.Preconditions.UID {
				return apierrors.NewConflict(gvr.GroupResource(), name, fmt.Errorf("the UID in the precondition does not match"))
			}
		}
	}
	// A running pod is deleted gracefully, as the API server does: it is marked with a deletion
	// timestamp, its kubelet stops the containers and then removes it (grace period 0).
	if pod, ok := current.(*corev1.Pod); ok && pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && !forced(opts) {
		pod = pod.DeepCopy()
		now := metav1.Now()
		grace := int64(30)
		for _, o := range opts {
			if o.GracePeriodSeconds != nil {
				grace = *o.GracePeriodSeconds
			}
		}
		pod.DeletionTimestamp = &now
		pod.DeletionGracePeriodSeconds = &grace
		t.rev.mu.Lock()
		pod.ResourceVersion = t.rev.bump()
		t.rev.mu.Unlock()
		if err := t.ObjectTracker.Update(gvr, pod, ns); err != nil {
			return err
		}
		t.emit(gvr, ns, watch.Modified, pod)
		return nil
	}
	if err := t.ObjectTracker.Delete(gvr, ns, name, opts...); err != nil {
		return err
	}
	t.emit(gvr, ns, watch.Deleted, current)
	return nil
}

func forced(opts []metav1.DeleteOptions) bool {
	for _, o := range opts {
		if o.GracePeriodSeconds != nil && *o.GracePeriodSeconds == 0 {
			return true
		}
	}
	return false
}

// use makes a fake clientset's reactions go to the tracker.
func use(fake *clienttesting.Fake, tracker *versionedTracker) {
	fake.ReactionChain = nil
	fake.WatchReactionChain = nil
	fake.AddReactor("*", "*", clienttesting.ObjectReaction(tracker))
	fake.AddWatchReactor("*", func(action clienttesting.Action) (bool, watch.Interface, error) {
		w, err := tracker.Watch(action.GetResource(), action.GetNamespace())
		return true, w, err
	})
}

// Stores are the in-memory API the controller, the kubelet and the REST front share.
type Stores struct {
	Kube     *kubefake.Clientset
	Workflow *wffake.Clientset
	wfTrack  *versionedTracker
	rev      *revision
}

var workflowsGVR = wfv1.SchemeGroupVersion.WithResource("workflows")

func newStores() *Stores {
	rev := &revision{}
	kube := kubefake.NewSimpleClientset()
	kubeTrack := newVersionedTracker(clienttesting.NewObjectTracker(kubescheme.Scheme, kubescheme.Codecs.UniversalDecoder()), rev)
	use(&kube.Fake, kubeTrack)
	// Access reviews are questions, not objects: the harness allows everything.
	kube.PrependReactor("create", "selfsubjectaccessreviews", func(action clienttesting.Action) (bool, runtime.Object, error) {
		review := action.(clienttesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		review.Status.Allowed = true
		return true, review, nil
	})

	wf := wffake.NewSimpleClientset()
	wfTrack := newVersionedTracker(clienttesting.NewObjectTracker(wfscheme.Scheme, wfscheme.Codecs.UniversalDecoder()), rev)
	use(&wf.Fake, wfTrack)

	return &Stores{Kube: kube, Workflow: wf, wfTrack: wfTrack, rev: rev}
}

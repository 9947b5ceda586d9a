package main

import (
	"context"
	"os"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
)

// Delete rules: a test asks the kubelet to delete the pod of one task attempt while it runs.

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

// applyRule deletes a pod "mid-run": its process is frozen (SIGSTOP) until Argo's status shows
// the node Running, so the controller knows the pod ran, then the pod is deleted (after
// after_seconds) as `kubectl delete pod` would, which kills the process.
func (k *Kubelet) applyRule(ctx context.Context, r *podRun, rule deleteRule) {
	k.kill(r, syscall.SIGSTOP)
	if rule.Hold {
		// A slow pod: it runs on only once it is signalled (stop, terminate, deletion).
		k.logf("pod %s: holding its process as asked (task %s attempt %d)", r.key, rule.Task, rule.Attempt)
		return
	}
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

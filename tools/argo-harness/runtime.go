package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/argoproj/argo-workflows/v4/workflow/executor"
)

// processRuntime is argoexec's ContainerRuntimeExecutor for a local process: files of the main
// container are read through its volume mounts, its output is the process's log.
type processRuntime struct {
	mounts   *mountTable
	logPath  string
	kubelet  *Kubelet
	run      *podRun
	exitOnce sync.Once
	exitCh   chan struct{}
}

func (p *processRuntime) exited() chan struct{} {
	p.exitOnce.Do(func() { p.exitCh = make(chan struct{}) })
	return p.exitCh
}

func (p *processRuntime) GetFileContents(_ string, sourcePath string) (string, error) {
	data, err := os.ReadFile(p.mounts.mapPath(sourcePath))
	if err != nil {
		return "", err
	}
	return string(data), nil
}

func (p *processRuntime) CopyFile(context.Context, string, string, string, int) error {
	return fmt.Errorf("the process kubelet does not copy artifacts")
}

func (p *processRuntime) GetOutputStream(context.Context, string, bool) (io.ReadCloser, error) {
	return os.Open(p.logPath)
}

func (p *processRuntime) Wait(ctx context.Context, _ []string) error {
	select {
	case <-p.exited():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *processRuntime) Kill(_ context.Context, _ []string, grace time.Duration) error {
	p.kubelet.kill(p.run, syscall.SIGTERM)
	select {
	case <-p.exited():
	case <-time.After(grace):
		p.kubelet.kill(p.run, syscall.SIGKILL)
	}
	return nil
}

// newWaitExecutor is argoexec's WorkflowExecutor as the wait container builds it, for one pod.
// Its template has no volume mounts: the runtime resolves every path through the pod's mounts
// (argoexec would read paths on volumes from its own mount of them, /mainctrfs).
func newWaitExecutor(ctx context.Context, stores *Stores, pod *corev1.Pod, main *corev1.Container, tmpl *wfv1.Template, rt *processRuntime) *executor.WorkflowExecutor {
	t := tmpl.DeepCopy()
	if t.Container != nil {
		t.Container.VolumeMounts = nil
	}
	var deadline time.Time
	if d := podEnv(pod, common.EnvVarDeadline); d != "" {
		deadline, _ = time.Parse(time.RFC3339, d)
	}
	wfName := pod.Labels[common.LabelKeyWorkflow]
	wfUID := types.UID("")
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == "Workflow" {
			wfUID = ref.UID
		}
	}
	we := executor.NewExecutor(ctx, stores.Kube, stores.Workflow.ArgoprojV1alpha1().WorkflowTaskResults(pod.Namespace), nil,
		pod.Name, pod.UID, wfName, wfUID, podEnv(pod, common.EnvVarNodeID), pod.Namespace, rt, *t,
		podEnv(pod, common.EnvVarIncludeScriptOutput) == "true", deadline, 0, 0)
	return &we
}

// reportOutputs is the tail of argoexec's wait command (cmd/argoexec/commands/wait.go).
func reportOutputs(ctx context.Context, we *executor.WorkflowExecutor) {
	defer we.FinalizeOutput(ctx)
	if err := we.CaptureScriptResult(ctx); err != nil {
		we.AddError(ctx, err)
	}
	if err := we.SaveParameters(ctx); err != nil {
		we.AddError(ctx, err)
	}
	if err := we.ReportOutputs(ctx, nil); err != nil {
		we.AddError(ctx, err)
	}
}

func patchTaskResult(ctx context.Context, stores *Stores, ns, name string, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = stores.Workflow.ArgoprojV1alpha1().WorkflowTaskResults(ns).Patch(ctx, name, types.MergePatchType, data, metav1.PatchOptions{})
	return err
}

package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
)

// One pod's life on the process kubelet: status reports, the process, outputs and progress.

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

func (k *Kubelet) failPod(ctx context.Context, r *podRun, message string) error {
	k.logf("pod %s: %s", r.key, message)
	return k.updateStatus(ctx, r, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.Message = message
		s.Reason = "HarnessError"
	})
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

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
)

// What the process kubelet reads from a pod the controller created: its node, template,
// argoexec environment, command and environment.

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

package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// mountTable maps the paths a container sees to the local directories behind its volumes:
// a hostPath volume is its own path, a PersistentVolumeClaim is the directory given for the claim
// (--volume CLAIM=DIR), an emptyDir is a fresh directory of the pod.
type mountTable struct {
	mounts []mount // longest mount path first
}

type mount struct {
	path string
	host string
}

func (k *Kubelet) mounts(pod *corev1.Pod, c *corev1.Container) (*mountTable, error) {
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.HostPath != nil:
			dirs[v.Name] = v.HostPath.Path
		case v.PersistentVolumeClaim != nil:
			dir, ok := k.claims[v.PersistentVolumeClaim.ClaimName]
			if !ok {
				return nil, fmt.Errorf("volume %s: no directory for PersistentVolumeClaim %q (start the harness with --volume %s=DIR)",
					v.Name, v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ClaimName)
			}
			dirs[v.Name] = dir
		case v.EmptyDir != nil:
			dir := filepath.Join(k.scratch, "pods", pod.Namespace, pod.Name, "volumes", v.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			dirs[v.Name] = dir
		}
	}
	t := &mountTable{}
	for _, m := range c.VolumeMounts {
		host, ok := dirs[m.Name]
		if !ok {
			if m.Name == "var-run-argo" {
				continue
			}
			return nil, fmt.Errorf("volume mount %s at %s: the process kubelet supports hostPath, persistentVolumeClaim and emptyDir volumes", m.Name, m.MountPath)
		}
		if m.SubPath != "" {
			host = filepath.Join(host, m.SubPath)
		}
		t.mounts = append(t.mounts, mount{path: path.Clean(m.MountPath), host: host})
	}
	sort.SliceStable(t.mounts, func(i, j int) bool { return len(t.mounts[i].path) > len(t.mounts[j].path) })
	return t, nil
}

// mapPath gives the local path of a path in the container (text that is no path below a mount
// is returned as is).
func (t *mountTable) mapPath(text string) string {
	for _, m := range t.mounts {
		if text == m.path {
			return m.host
		}
		prefix := strings.TrimSuffix(m.path, "/") + "/"
		if strings.HasPrefix(text, prefix) {
			return filepath.Join(m.host, strings.TrimPrefix(text, prefix))
		}
	}
	return text
}

func (t *mountTable) mapAll(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = t.mapPath(a)
	}
	return out
}

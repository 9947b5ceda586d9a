package main

import (
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// SecurityLog checks every pod the controller creates against the Pod Security "restricted"
// profile (latest version) with the upstream pod-security-admission policy code, as an
// admission controller enforcing `pod-security.kubernetes.io/enforce: restricted` would.
type SecurityLog struct {
	evaluator policy.Evaluator
	mu        sync.Mutex
	results   map[string]PodCheck
}

// PodCheck is the verdict for one pod.
type PodCheck struct {
	podInfo
	Allowed    bool     `json:"allowed"`
	Violations []string `json:"violations"`
}

func newSecurityLog() *SecurityLog {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		panic(err)
	}
	return &SecurityLog{evaluator: evaluator, results: map[string]PodCheck{}}
}

func (s *SecurityLog) check(pod *corev1.Pod, info podInfo, logf func(string, ...any)) {
	level := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	agg := policy.AggregateCheckResults(s.evaluator.EvaluatePod(level, &pod.ObjectMeta, &pod.Spec))
	result := PodCheck{podInfo: info, Allowed: agg.Allowed, Violations: []string{}}
	if !agg.Allowed {
		result.Violations = append(result.Violations, agg.ForbiddenDetail())
		logf("pod %s/%s violates PodSecurity restricted:latest: %s", pod.Namespace, pod.Name, agg.ForbiddenDetail())
	} else {
		logf("pod %s/%s passes PodSecurity restricted:latest", pod.Namespace, pod.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[podKey(pod.Namespace, pod.Name)] = result
}

func (s *SecurityLog) list(ns, workflow string) []PodCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []PodCheck{}
	for _, r := range s.results {
		if r.Namespace == ns && (workflow == "" || r.Workflow == workflow) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *SecurityLog) setParams(key string, params map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.results[key]; ok {
		r.Params = params
		s.results[key] = r
	}
}

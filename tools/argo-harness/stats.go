package main

import (
	"sync"
)

// Stats counts the main-container processes the kubelet runs, per workflow and template: how
// many run now and the most that ever ran at once.
type Stats struct {
	mu      sync.Mutex
	running map[string]int
	max     map[string]int
	total   map[string]int
}

func newStats() *Stats {
	return &Stats{running: map[string]int{}, max: map[string]int{}, total: map[string]int{}}
}

func statsKey(info podInfo) string { return info.Namespace + "/" + info.Workflow + "/" + info.Template }

func (s *Stats) started(info podInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := statsKey(info)
	s.running[key]++
	s.total[key]++
	if s.running[key] > s.max[key] {
		s.max[key] = s.running[key]
	}
}

func (s *Stats) finished(info podInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running[statsKey(info)]--
}

// TemplateStats is one template's figures in one workflow.
type TemplateStats struct {
	Running    int `json:"running"`
	MaxRunning int `json:"max_running"`
	Started    int `json:"started"`
}

func (s *Stats) snapshot(ns, workflow string) map[string]TemplateStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]TemplateStats{}
	prefix := ns + "/" + workflow + "/"
	for key, total := range s.total {
		if len(key) > len(prefix) && key[:len(prefix)] == prefix {
			out[key[len(prefix):]] = TemplateStats{Running: s.running[key], MaxRunning: s.max[key], Started: total}
		}
	}
	return out
}

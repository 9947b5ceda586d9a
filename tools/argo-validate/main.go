// Command argo-validate checks Workflow manifests with Argo Workflows' own validator.
//
// Usage:
//
//	argo-validate FILE...   (YAML or JSON; "-" reads standard input)
//
// Each file is decoded strictly (an unknown or misspelled field is an error, as with
// `argo lint --strict`) and then validated by the same code argo-server runs when a workflow
// is created. It prints "FILE: ok" per valid file, or "FILE: <Argo's message>" on standard
// error and exits 1. No cluster is needed: WorkflowTemplate references resolve to "not found".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/common"
	"github.com/argoproj/argo-workflows/v4/workflow/validate"
)

// noTemplates resolves no WorkflowTemplate: clustercode's manifests are self-contained.
type noTemplates struct{}

func (noTemplates) Get(_ context.Context, name string) (*wfv1.WorkflowTemplate, error) {
	return nil, fmt.Errorf("workflow template %q not found (manifests must be self-contained)", name)
}

type noClusterTemplates struct{}

func (noClusterTemplates) Get(_ context.Context, name string) (*wfv1.ClusterWorkflowTemplate, error) {
	return nil, fmt.Errorf("cluster workflow template %q not found (manifests must be self-contained)", name)
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func validateFile(ctx context.Context, path string) error {
	body, err := readInput(path)
	if err != nil {
		return err
	}
	workflows, err := common.SplitWorkflowYAMLFile(ctx, body, true)
	if err != nil {
		return err
	}
	if len(workflows) == 0 {
		return errors.New("no object of kind Workflow found")
	}
	for i := range workflows {
		wf := &workflows[i]
		// ValidateOpts{} is what argo-server applies to a workflow create request.
		if err := validate.ValidateWorkflow(ctx, noTemplates{}, noClusterTemplates{}, wf, nil, validate.ValidateOpts{}); err != nil {
			return fmt.Errorf("workflow %q: %w", wf.Name, err)
		}
	}
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: argo-validate FILE... (YAML or JSON Workflow manifests; - for stdin)")
		os.Exit(2)
	}
	logger := logging.NewSlogLoggerCustom(logging.Warn, logging.Text, os.Stderr)
	ctx := logging.WithLogger(context.Background(), logger)
	failed := false
	for _, path := range os.Args[1:] {
		if err := validateFile(ctx, path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: ok\n", path)
	}
	if failed {
		os.Exit(1)
	}
}

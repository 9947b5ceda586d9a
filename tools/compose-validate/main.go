// Command compose-validate loads compose files with Docker Compose's own loader.
//
// Usage:
//
//	compose-validate [-json] FILE...
//
// The loader is github.com/compose-spec/compose-go/v2, the code `docker compose config` runs:
// the Compose Specification's schema, interpolation (an unset required variable is an error),
// merging, normalization and the consistency checks (every volume, secret, network and
// depends_on target that a service names must exist). Variables come from the environment and
// from a .env file beside the first FILE, as with docker compose. It prints "ok: FILE..." or,
// with -json, the resolved project (as `docker compose config --format json` would); on an
// error it prints the loader's message on standard error and exits 1. No Docker is needed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	asJSON := flag.Bool("json", false, "print the resolved project as JSON")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: compose-validate [-json] FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	files := flag.Args()
	options, err := cli.NewProjectOptions(files,
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(files, err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(files, err)
	}
	if !*asJSON {
		fmt.Println("ok:", files)
		return
	}
	body, err := project.MarshalJSON()
	if err != nil {
		fail(files, err)
	}
	fmt.Println(string(body))
}

func fail(files []string, err error) {
	fmt.Fprintf(os.Stderr, "%v: %v\n", files, err)
	os.Exit(1)
}

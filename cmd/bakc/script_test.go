package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var updateScripts = flag.Bool("update-scripts", false, "rewrite the expected output in testdata/script/*.txtar from what bakc prints")

// TestMain lets the scripts run bakc as a command: the test binary
// re-executes itself as bakc, calling Main.
func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"bakc": func() int {
			applyTestHooks()
			return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		},
	}))
}

// TestScripts runs every testdata/script/*.txtar: one user session per
// file, inputs embedded. Besides testscript's own commands they have:
//
//	exitcode N CMD ARGS…   run CMD and require exit code N (0, 1 or 2)
//
// and $HOMELAB, the example fleet (read-only: copy it before changing it).
func TestScripts(t *testing.T) {
	homelab, err := filepath.Abs("../../examples/homelab")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *updateScripts,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOMELAB", homelab)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
		},
	})
}

// cmdExitCode runs a command and checks its exact exit code, which
// `exec` and `! exec` cannot tell apart (1 and 2 are both failures).
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

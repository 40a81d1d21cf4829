package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/holthome/bakc/internal/testenv"
)

var updateScripts = flag.Bool("update-scripts", false, "rewrite the expected output in testdata/script/*.txtar from what bakc prints")

// TestMain lets the scripts run bakc as a command: the test binary
// re-executes itself as bakc, calling Main. The other commands are
// programs the tests' runs start (a dump's database client).
func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"bakc": func() int {
			applyTestHooks()
			return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		},
		"bakc-test-sockcat": sockcat,
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
			env.Setenv("SOPS_BIN", sopsBinary())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"agekey":   cmdAgeKey,
		},
		Condition: func(cond string) (bool, error) {
			if cond != "sops" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			_, err := exec.LookPath("age-keygen")
			if (sopsBinary() == "" || err != nil) && testenv.RequireAll() {
				return false, errors.New("sops or age-keygen is missing (run ./scripts/test-setup.sh)")
			}
			return sopsBinary() != "" && err == nil, nil
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

// sopsBinary is the sops test-setup.sh builds, or "" when it is not
// there.
func sopsBinary() string {
	p := filepath.Join(testenv.CacheDir(), "sops-"+testenv.SopsVersion, "sops")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// cmdAgeKey makes the operator's age key with age-keygen, exports it as
// SOPS_AGE_KEY_FILE, and writes DIR/.sops.yaml: every secrets/*.yaml
// below DIR is encrypted for that key.
//
//	agekey DIR
func cmdAgeKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: agekey DIR")
	}
	key := ts.MkAbs("age-operator.txt")
	ts.Check(ts.Exec("age-keygen", "-o", key))
	out, err := exec.Command("age-keygen", "-y", key).Output()
	ts.Check(err)
	recipient := strings.TrimSpace(string(out))
	ts.Setenv("SOPS_AGE_KEY_FILE", key)
	ts.Setenv("AGE_RECIPIENT", recipient)
	rules := "creation_rules:\n  - path_regex: secrets/[^/]+\\.yaml$\n    age: " + recipient + "\n"
	ts.Check(os.WriteFile(filepath.Join(ts.MkAbs(args[0]), ".sops.yaml"), []byte(rules), 0o644))
}

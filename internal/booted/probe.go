package booted

import (
	"bufio"
	"debug/elf"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/internal/testenv"
)

// insideEnv is set in the machine for the test binary that the probe
// runs: the test is inside, and asserts instead of booting.
const insideEnv = "BAKC_BOOTED_INSIDE"

// Inside reports whether the test runs inside a booted machine, started
// by the probe.
func Inside() bool { return os.Getenv(insideEnv) != "" }

const (
	probeUnit   = "bakc-test-probe.service"
	probeBinary = "/opt/bakc-test/booted.test"
	probeDone   = "/opt/bakc-test/probe-done.sh"
)

// Run boots m and runs the calling test again inside it: the probe, a
// unit started after multi-user.target, runs this test binary with
// -test.run set to exactly the calling test's name and BAKC_BOOTED_INSIDE
// set, so that the same test function, seeing Inside(), makes its
// assertions against the running system. When it ends, the probe writes
// its result into the results folder and powers the machine off.
//
// Back outside, the inner test's subtests are run again as subtests of
// the calling test with the inner outcome: an inner failure fails the
// subtest of the same name with what the inner test printed, so that
// `go test -v` shows which assertions failed inside. A probe that never
// finished fails the test with its output and the console's tail.
func Run(t *testing.T, m *Machine, timeout time.Duration) *Boot {
	t.Helper()
	tree := Tree(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	checkRunsIn(t, exe, tree)
	m.CopyFile(probeBinary, exe, 0o755)
	m.WriteFile(probeDone, []byte(`#!/bin/sh
# The probe's result, then the end of the boot.
echo "$SERVICE_RESULT $EXIT_CODE $EXIT_STATUS" > `+ResultsDir+`/status
exec systemctl poweroff --no-block
`), 0o755)
	argv := []string{probeBinary, "-test.run=" + runPattern(t.Name()), "-test.v",
		// Inside stops a little before the boot's own timeout, so that a
		// hung assertion still brings its output back.
		"-test.timeout=" + (timeout - 30*time.Second).String()}
	env := []string{insideEnv + "=1", "HOME=/root"}
	if testenv.RequireAll() {
		env = append(env, "BAKC_TEST_REQUIRE_ALL=1")
	}
	m.WriteFile("/etc/systemd/system/"+probeUnit, []byte(`[Unit]
Description=`+escape.SystemdString("bakc test probe: "+t.Name()+" inside the machine")+`
After=multi-user.target

[Service]
Type=oneshot
Environment=`+strings.Join(env, " ")+`
WorkingDirectory=/opt/bakc-test
ExecStart=`+escape.SystemdExec(argv)+`
StandardOutput=append:`+ResultsDir+`/inner.log
StandardError=inherit
TimeoutStartSec=infinity
ExecStopPost=`+probeDone+`
`), 0o644)
	m.Enable(probeUnit, "multi-user.target")

	b := BootMachine(t, m, timeout)
	inner, err := os.ReadFile(filepath.Join(b.Results, "inner.log"))
	if err != nil {
		t.Errorf("the probe's output: %v", err)
	}
	status, err := os.ReadFile(filepath.Join(b.Results, "status"))
	if err != nil {
		t.Fatalf("the probe did not finish (%v; systemd-nspawn: %v); what it printed:\n%s", err, b.Err, tail(string(inner), 80))
	}
	results := parseTestOutput(string(inner))
	top, ok := results[t.Name()]
	if !ok {
		t.Fatalf("the probe ran (%s) but %s did not run inside; what it printed:\n%s", strings.TrimSpace(string(status)), t.Name(), tail(string(inner), 80))
	}
	if top.status == "" {
		t.Errorf("%s did not finish inside (probe: %s)", t.Name(), strings.TrimSpace(string(status)))
	}
	mirror(t, top)
	switch {
	case top.status == "FAIL" && !top.childFailed():
		t.Errorf("failed inside the machine:\n%s", top.output.String())
	case testing.Verbose() && top.output.Len() > 0:
		t.Logf("inside the machine:\n%s", top.output.String())
	}
	return b
}

// runPattern is a -test.run pattern that matches exactly the test name
// (and its subtests).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// checkRunsIn makes sure the test binary can run in the tree: a binary
// linked against the host's C library needs the same interpreter there,
// and a C library no older than the host's (the tree is Debian bookworm;
// so must the host be then).
func checkRunsIn(t *testing.T, exe, tree string) {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatalf("reading the test binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		interp := strings.TrimRight(string(b), "\x00")
		host, tr := osRelease("/"), osRelease(tree)
		if host != tr {
			t.Fatalf("the test binary is linked dynamically (%s) on a %s host; the booted tree is %s: build the tests with CGO_ENABLED=0 or run them on %s", interp, host, tr, tr)
		}
	}
}

// osRelease is VERSION_CODENAME of the system at root.
func osRelease(root string) string {
	data, _ := os.ReadFile(filepath.Join(root, "etc", "os-release"))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VERSION_CODENAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}

// testResult is one test of `go test -v` output.
type testResult struct {
	name     string
	status   string // PASS, FAIL, SKIP; empty if it never ended
	output   strings.Builder
	children []*testResult
}

func (r *testResult) childFailed() bool {
	for _, c := range r.children {
		if c.status == "FAIL" || c.status == "" {
			return true
		}
	}
	return false
}

var (
	framing = regexp.MustCompile(`^=== (RUN|CONT|NAME|PAUSE)\s+(\S+)`)
	outcome = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(`)
)

// parseTestOutput reads the output of a test binary run with -test.v:
// every test by name, with its outcome and the lines it printed, and its
// subtests in order. In verbose mode a test's output is printed as it
// happens, after a line that names the test (=== RUN, CONT or NAME).
func parseTestOutput(out string) map[string]*testResult {
	tests := map[string]*testResult{}
	var current *testResult
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := framing.FindStringSubmatch(line); m != nil {
			r, ok := tests[m[2]]
			if !ok {
				r = &testResult{name: m[2]}
				tests[m[2]] = r
				if i := strings.LastIndex(m[2], "/"); i > 0 {
					if parent, ok := tests[m[2][:i]]; ok {
						parent.children = append(parent.children, r)
					}
				}
			}
			current = r
			continue
		}
		if m := outcome.FindStringSubmatch(line); m != nil {
			if r, ok := tests[m[2]]; ok {
				// A test that prints after a result line is named
				// again first (=== NAME).
				r.status = m[1]
				current = nil
				continue
			}
		}
		if current != nil {
			current.output.WriteString(line + "\n")
		}
	}
	return tests
}

// mirror runs r's subtests as subtests of t, with their inner outcome.
func mirror(t *testing.T, r *testResult) {
	for _, c := range r.children {
		t.Run(c.name[strings.LastIndex(c.name, "/")+1:], func(t *testing.T) {
			mirror(t, c)
			switch c.status {
			case "FAIL":
				if !c.childFailed() {
					t.Errorf("failed inside the machine:\n%s", c.output.String())
				}
			case "SKIP":
				t.Skipf("skipped inside the machine:\n%s", c.output.String())
			case "PASS":
				if testing.Verbose() && c.output.Len() > 0 {
					t.Logf("inside the machine:\n%s", c.output.String())
				}
			default:
				t.Errorf("did not finish inside the machine:\n%s", c.output.String())
			}
		})
	}
}

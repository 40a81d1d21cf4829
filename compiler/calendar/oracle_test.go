package calendar

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The oracle: systemd-analyze (systemd 252 here and in CI) run on one
// expression at a time, in UTC and the C locale so that its answers do
// not depend on the machine's zone.

// systemdVerdict is what systemd-analyze says about one input.
type systemdVerdict struct {
	Valid bool
	// Normalized is the "Normalized form:" of a calendar expression; for
	// a time span, its microseconds and "Human:" form joined by a space.
	Normalized string
	// Message is systemd's error text for an invalid input
	// ("Invalid argument").
	Message string
	// Next is, for a valid calendar expression, when it elapses next
	// after baseTime, in UTC to the second as systemd prints it ("Mon
	// 2025-06-16 00:00:00 UTC"), or "never".
	Next string
}

// baseTime is the instant the corpus computes next elapses from (Sun
// 2025-06-15 15:06:40 UTC), so that they do not change with the day the
// tests run.
var baseTime = time.Unix(1750000000, 0).UTC()

// systemdTimestamp is how systemd-analyze prints a time in UTC.
const systemdTimestamp = "Mon 2006-01-02 15:04:05 UTC"

func runSystemdAnalyze(bin string, args ...string) (stdout, stderr string, exitErr error, err error) {
	return runSystemdAnalyzeTZ(bin, "UTC", args...)
}

// runSystemdAnalyzeTZ runs systemd-analyze with the local time zone zone.
func runSystemdAnalyzeTZ(bin, zone string, args ...string) (stdout, stderr string, exitErr error, err error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"TZ=:" + zone, "LC_ALL=C", "PATH=/usr/bin:/bin", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return "", "", nil, runErr
	}
	return out.String(), errb.String(), runErr, nil
}

// systemdCalendar asks `systemd-analyze calendar` about expr. It exits
// non-zero for an invalid expression (and, in some versions, for a valid
// one that never elapses again), so validity is read from the output: a
// "Normalized form:" line means valid.
func systemdCalendar(bin, expr string) (systemdVerdict, error) {
	stdout, stderr, exitErr, err := runSystemdAnalyze(bin, "calendar", fmt.Sprintf("--base-time=@%d", baseTime.Unix()), "--", expr)
	if err != nil {
		return systemdVerdict{}, err
	}
	var v systemdVerdict
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " ")
		if rest, ok := strings.CutPrefix(line, "Normalized form: "); ok {
			v.Valid, v.Normalized = true, rest
		}
		if rest, ok := strings.CutPrefix(line, "Next elapse: "); ok && v.Valid && v.Next == "" {
			v.Next = rest
		}
	}
	if v.Valid {
		if v.Next == "" {
			return systemdVerdict{}, fmt.Errorf("systemd-analyze calendar %q: no next elapse:\n%s%s", expr, stdout, stderr)
		}
		return v, nil
	}
	if exitErr == nil {
		return systemdVerdict{}, fmt.Errorf("systemd-analyze calendar %q: exit 0 without a normalized form:\n%s%s", expr, stdout, stderr)
	}
	return systemdVerdict{Message: lastReason(stderr)}, nil
}

// systemdTimespan asks `systemd-analyze timespan` about s.
func systemdTimespan(bin, s string) (systemdVerdict, error) {
	stdout, stderr, exitErr, err := runSystemdAnalyze(bin, "timespan", "--", s)
	if err != nil {
		return systemdVerdict{}, err
	}
	if exitErr != nil {
		return systemdVerdict{Message: lastReason(stderr)}, nil
	}
	var usec, human string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " ")
		// "μs:" in a UTF-8 locale, "us:" in the C locale.
		if v, ok := strings.CutPrefix(line, "us: "); ok {
			usec = v
		}
		if v, ok := strings.CutPrefix(line, "μs: "); ok {
			usec = v
		}
		if v, ok := strings.CutPrefix(line, "Human: "); ok {
			human = v
		}
	}
	if usec == "" || human == "" {
		return systemdVerdict{}, fmt.Errorf("systemd-analyze timespan %q: unexpected output:\n%s%s", s, stdout, stderr)
	}
	return systemdVerdict{Valid: true, Normalized: usec + " " + human}, nil
}

// lastReason keeps the errno text of systemd's first line, "Failed to
// parse …: Invalid argument" (a "Hint:" line may follow).
func lastReason(stderr string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
	if i := strings.LastIndex(first, ": "); i >= 0 {
		return first[i+2:]
	}
	return first
}

// corpusEntry is one line of a corpus file:
//
//	"expression"<TAB>ok<TAB>"normalized form"<TAB>"next elapse"
//	"expression"<TAB>invalid<TAB>"systemd's error text"
//
// Inputs are Go-quoted so that any byte can be stored. The next elapse
// (calendar expressions only) is counted from baseTime. A line holding
// only the quoted input is a new entry that -update fills in.
type corpusEntry struct {
	Line    int
	Input   string
	Verdict systemdVerdict
	Filled  bool
}

func readCorpus(t testing.TB, path string) []corpusEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusEntry
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		in, err := strconv.Unquote(f[0])
		if err != nil {
			t.Fatalf("%s:%d: input: %v", path, i+1, err)
		}
		e := corpusEntry{Line: i + 1, Input: in}
		if len(f) == 3 || len(f) == 4 {
			v, err := strconv.Unquote(f[2])
			if err != nil {
				t.Fatalf("%s:%d: third column: %v", path, i+1, err)
			}
			switch f[1] {
			case "ok":
				e.Verdict = systemdVerdict{Valid: true, Normalized: v}
				if len(f) == 4 {
					if e.Verdict.Next, err = strconv.Unquote(f[3]); err != nil {
						t.Fatalf("%s:%d: fourth column: %v", path, i+1, err)
					}
				}
			case "invalid":
				e.Verdict = systemdVerdict{Message: v}
			default:
				t.Fatalf("%s:%d: verdict %q is neither ok nor invalid", path, i+1, f[1])
			}
			e.Filled = true
		} else if len(f) != 1 {
			t.Fatalf("%s:%d: want 1, 3 or 4 tab-separated columns, got %d", path, i+1, len(f))
		}
		out = append(out, e)
	}
	return out
}

func writeCorpus(t testing.TB, path, header string, entries []corpusEntry) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	for _, e := range entries {
		switch {
		case e.Verdict.Valid && e.Verdict.Next != "":
			fmt.Fprintf(&b, "%s\tok\t%s\t%s\n", strconv.Quote(e.Input), strconv.Quote(e.Verdict.Normalized), strconv.Quote(e.Verdict.Next))
		case e.Verdict.Valid:
			fmt.Fprintf(&b, "%s\tok\t%s\n", strconv.Quote(e.Input), strconv.Quote(e.Verdict.Normalized))
		default:
			fmt.Fprintf(&b, "%s\tinvalid\t%s\n", strconv.Quote(e.Input), strconv.Quote(e.Verdict.Message))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

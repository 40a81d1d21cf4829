package calendar

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// The corpus checks Next from one base time in UTC. These cases are the
// hard part: the hours around a change of offset (daylight saving time),
// where a wall-clock time occurs twice or not at all, in a zone named in
// the expression and in the node's local zone. Their expected values
// come from systemd-analyze (testdata/next.txt, -update), and are checked
// against the live systemd-analyze when it is installed.

const nextCorpus = "testdata/next.txt"

type nextCase struct {
	Expr string
	// Local is the zone systemd runs in (TZ) and bakc passes as after's
	// location: the expression's own zone when it names one, else the
	// node's local zone.
	Local string
	Base  int64
	Want  string // "Mon 2006-01-02 15:04:05 UTC", or "never"
}

// nextCases builds the cases: for each zone, each change of offset in
// 2025, base times from three hours before to half an hour after it, and
// expressions whose next elapse falls in or near the change.
func nextCases(t *testing.T) []nextCase {
	t.Helper()
	var out []nextCase
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Havana"} {
		loc, err := time.LoadLocation(zone)
		require.NoError(t, err)
		for _, change := range offsetChanges(loc, 2025) {
			for _, d := range []time.Duration{-3 * time.Hour, -61 * time.Minute, -1 * time.Minute, 30 * time.Minute} {
				base := change.Add(d).Unix()
				for _, e := range []string{"*-*-* 02:30", "*-*-* 01:59:59", "hourly", "*:0/20", "daily"} {
					out = append(out, nextCase{Expr: e + " " + zone, Local: "UTC", Base: base})
					out = append(out, nextCase{Expr: e, Local: zone, Base: base})
				}
			}
		}
	}
	return out
}

// offsetChanges are the first instants of each new offset in year.
func offsetChanges(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	_, prev := t.Zone()
	for end := t.AddDate(1, 0, 0); t.Before(end); t = t.Add(15 * time.Minute) {
		if _, off := t.Zone(); off != prev {
			out = append(out, t)
			prev = off
		}
	}
	return out
}

func bakcNext(c nextCase) string {
	loc, err := time.LoadLocation(c.Local)
	if err != nil {
		return "error: " + err.Error()
	}
	next, ok, err := Next(c.Expr, time.Unix(c.Base, 0).In(loc))
	switch {
	case err != nil:
		return "error: " + err.Error()
	case !ok:
		return "never"
	}
	return next.UTC().Format(systemdTimestamp)
}

func systemdNext(bin string, c nextCase) (string, error) {
	cmd := []string{"calendar", fmt.Sprintf("--base-time=@%d", c.Base), "--", c.Expr}
	stdout, stderr, exitErr, err := runSystemdAnalyzeTZ(bin, c.Local, cmd...)
	if err != nil || exitErr != nil {
		return "", fmt.Errorf("systemd-analyze %v: %v %v\n%s", cmd, err, exitErr, stderr)
	}
	var next, inUTC string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "Next elapse: "); ok {
			next = v
		}
		if v, ok := strings.CutPrefix(line, "(in UTC): "); ok {
			inUTC = v
		}
	}
	if inUTC != "" {
		return inUTC, nil
	}
	if next == "" {
		return "", fmt.Errorf("systemd-analyze %v: no next elapse:\n%s", cmd, stdout)
	}
	return next, nil
}

func TestNextAroundOffsetChanges(t *testing.T) {
	cases := nextCases(t)
	if *update {
		bin := testenv.SystemdAnalyze(t)
		live := askNext(t, bin, cases)
		var b strings.Builder
		b.WriteString("# Next elapses around changes of offset, from systemd 252's\n# systemd-analyze calendar --base-time (TZ=Local). Columns: the Go-quoted\n# expression, Local, the base time (Unix seconds), the Go-quoted next\n# elapse in UTC. Written by go test ./compiler/calendar -run NextAround -update.\n")
		for i, c := range cases {
			fmt.Fprintf(&b, "%s\t%s\t%d\t%s\n", strconv.Quote(c.Expr), c.Local, c.Base, strconv.Quote(live[i]))
		}
		require.NoError(t, os.WriteFile(nextCorpus, []byte(b.String()), 0o644))
	}
	stored := readNextCorpus(t)
	require.Len(t, stored, len(cases), "testdata/next.txt does not hold the cases nextCases builds: run -update")
	for i, c := range stored {
		require.Equal(t, cases[i].Expr+"|"+cases[i].Local+"|"+fmt.Sprint(cases[i].Base), c.Expr+"|"+c.Local+"|"+fmt.Sprint(c.Base), "run -update")
		if got := bakcNext(c); got != c.Want {
			t.Errorf("%s:%d: Next(%q) from %s in %s = %q, systemd says %q",
				nextCorpus, i+6, c.Expr, time.Unix(c.Base, 0).UTC().Format(time.RFC3339), c.Local, got, c.Want)
		}
	}
	t.Run("systemd-analyze", func(t *testing.T) {
		bin := testenv.SystemdAnalyze(t)
		live := askNext(t, bin, stored)
		for i, c := range stored {
			if live[i] != c.Want {
				t.Errorf("%s:%d: stored %q, live systemd-analyze says %q: run -update", nextCorpus, i+6, c.Want, live[i])
			}
		}
	})
}

func askNext(t *testing.T, bin string, cases []nextCase) []string {
	t.Helper()
	out := make([]string, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = systemdNext(bin, cases[i])
			}
		})
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return out
}

func readNextCorpus(t *testing.T) []nextCase {
	t.Helper()
	data, err := os.ReadFile(nextCorpus)
	require.NoError(t, err)
	var out []nextCase
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		require.Len(t, f, 4, "%s:%d", nextCorpus, i+1)
		var c nextCase
		c.Expr, err = strconv.Unquote(f[0])
		require.NoError(t, err)
		c.Local = f[1]
		c.Base, err = strconv.ParseInt(f[2], 10, 64)
		require.NoError(t, err)
		c.Want, err = strconv.Unquote(f[3])
		require.NoError(t, err)
		out = append(out, c)
	}
	return out
}

func TestNext(t *testing.T) {
	base := time.Date(2025, 6, 15, 15, 6, 40, 0, time.UTC)
	tests := []struct {
		expr string
		want string // RFC 3339 in UTC, or "never"
	}{
		{"daily", "2025-06-16T00:00:00Z"},
		{"Mon..Fri *-*-* 02:30", "2025-06-16T02:30:00Z"},
		{"*:*:0/0.5", "2025-06-15T15:06:40.5Z"},
		{"2001-01-01", "never"},
		{"*-02-30", "never"},
		{"*-02-29", "2028-02-29T00:00:00Z"},
		{"2199-12-31 23:59:59", "2199-12-31T23:59:59Z"},
		{"daily Asia/Tokyo", "2025-06-16T15:00:00Z"}, // 00:06:40 in Tokyo: the next midnight is a day later
	}
	for _, tt := range tests {
		next, ok, err := Next(tt.expr, base)
		require.NoError(t, err, tt.expr)
		got := "never"
		if ok {
			got = next.UTC().Format(time.RFC3339Nano)
		}
		if got != tt.want {
			t.Errorf("Next(%q) = %s, want %s", tt.expr, got, tt.want)
		}
	}
	_, _, err := Next("dayly", base)
	require.ErrorContains(t, err, `"dayly" is not a shorthand`)
}

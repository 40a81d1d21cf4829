package calendar

import (
	"flag"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/calendar.txt and testdata/timespan.txt from systemd-analyze")

const (
	calendarCorpus = "testdata/calendar.txt"
	timespanCorpus = "testdata/timespan.txt"
)

const calendarHeader = `# Calendar expressions and what systemd 252's systemd-analyze calendar says
# about them (TZ=UTC). Columns, tab-separated: the Go-quoted expression,
# ok or invalid, the Go-quoted "Normalized form" or systemd's error text,
# and for valid ones the next elapse after @1750000000 (Sun 2025-06-15
# 15:06:40 UTC) as systemd prints it.
# To add a case, add a line with just the quoted expression and run
#   go test ./compiler/calendar -run Corpus -update
# (needs systemd-analyze). TestCalendarCorpus checks bakc against this file
# always, and against the live systemd-analyze when it is installed.
`

const timespanHeader = `# Time spans and what systemd 252's systemd-analyze timespan says about
# them. Columns, tab-separated: the Go-quoted span, ok or invalid, and the
# Go-quoted "μs Human" pair (microseconds, a space, the "Human:" form) or
# systemd's error text. Add a line with just the quoted span and run
#   go test ./compiler/calendar -run Corpus -update
`

// bakcCalendar is bakc's verdict in the corpus' terms.
func bakcCalendar(expr string) systemdVerdict {
	n, err := Normalize(expr)
	if err != nil {
		return systemdVerdict{Message: err.Error()}
	}
	v := systemdVerdict{Valid: true, Normalized: n}
	switch next, ok, err := Next(expr, baseTime); {
	case err != nil:
		v.Next = "error: " + err.Error()
	case !ok:
		v.Next = "never"
	default:
		v.Next = next.UTC().Format(systemdTimestamp)
	}
	return v
}

func bakcTimespan(s string) systemdVerdict {
	usec, err := parseTimespanUsec(s)
	if err != nil {
		return systemdVerdict{Message: err.Error()}
	}
	return systemdVerdict{Valid: true, Normalized: strconv.FormatUint(usec, 10) + " " + formatUsec(usec)}
}

// sameVerdict compares validity, and the normalized form of valid inputs
// (bakc's messages are its own, not systemd's errno names).
func sameVerdict(want, got systemdVerdict) string {
	if want.Valid != got.Valid {
		return fmt.Sprintf("systemd says valid=%v (%q), bakc says valid=%v (%q)", want.Valid, want.Normalized+want.Message, got.Valid, got.Normalized+got.Message)
	}
	if want.Valid {
		d := cmp.Diff(want.Normalized, got.Normalized)
		// Time spans have no next elapse; calendar expressions do.
		if want.Next != "" || got.Next != "" {
			d += cmp.Diff("next elapse: "+want.Next, "next elapse: "+got.Next)
		}
		return d
	}
	return ""
}

func TestCalendarCorpus(t *testing.T) {
	testCorpus(t, calendarCorpus, calendarHeader, 200, bakcCalendar, systemdCalendar)
}

func TestTimespanCorpus(t *testing.T) {
	testCorpus(t, timespanCorpus, timespanHeader, 60, bakcTimespan, systemdTimespan)
}

func testCorpus(t *testing.T, path, header string, minEntries int,
	bakc func(string) systemdVerdict, oracle func(bin, in string) (systemdVerdict, error)) {
	entries := readCorpus(t, path)
	require.GreaterOrEqual(t, len(entries), minEntries, "the corpus must keep at least %d entries", minEntries)

	if *update {
		bin := testenv.SystemdAnalyze(t)
		live := askAll(t, bin, entries, oracle)
		for i := range entries {
			entries[i].Verdict, entries[i].Filled = live[i], true
		}
		writeCorpus(t, path, header, entries)
	}

	valid := 0
	for _, e := range entries {
		if !e.Filled {
			t.Errorf("%s:%d: %q has no verdict yet: run go test -run Corpus -update", path, e.Line, e.Input)
			continue
		}
		if e.Verdict.Valid {
			valid++
		}
		if d := sameVerdict(e.Verdict, bakc(e.Input)); d != "" {
			t.Errorf("%s:%d: %q: bakc disagrees with the stored systemd verdict (-systemd +bakc):\n%s", path, e.Line, e.Input, d)
		}
	}
	// A corpus of only valid or only invalid inputs would test half the
	// checker.
	require.Greater(t, valid, len(entries)/4, "too few valid entries")
	require.Greater(t, len(entries)-valid, len(entries)/4, "too few invalid entries")

	t.Run("systemd-analyze", func(t *testing.T) {
		bin := testenv.SystemdAnalyze(t)
		live := askAll(t, bin, entries, oracle)
		for i, e := range entries {
			if d := sameVerdict(live[i], e.Verdict); d != "" {
				t.Errorf("%s:%d: %q: the stored verdict is out of date (-live +stored); run -update and review:\n%s", path, e.Line, e.Input, d)
			}
			if d := sameVerdict(live[i], bakc(e.Input)); d != "" {
				t.Errorf("%s:%d: %q: bakc disagrees with the live systemd-analyze (-systemd +bakc):\n%s", path, e.Line, e.Input, d)
			}
		}
	})
}

// askAll runs the oracle on every entry, two at a time (the machines have
// two cores).
func askAll(t *testing.T, bin string, entries []corpusEntry, oracle func(bin, in string) (systemdVerdict, error)) []systemdVerdict {
	t.Helper()
	out := make([]systemdVerdict, len(entries))
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = oracle(bin, entries[i].Input)
			}
		})
	}
	for i := range entries {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("entry %q: %v", entries[i].Input, err)
		}
	}
	return out
}

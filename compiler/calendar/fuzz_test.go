package calendar

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/holthome/bakc/internal/testenv"
)

// calendarSeeds are the fuzzers' starting points besides the corpus.
var calendarSeeds = []string{
	"daily", "Mon..Fri *-*-* 02:30", "*-*~03", "*:0/15", "12:00:00.5/0.25", "@1700000000",
	"Sat,Sun 2025-06-01..30/2 10:00 Europe/Berlin", "*-*-* 8..17/2:00 UTC", "2023..2025-*-* 00:00",
}

var timespanSeeds = []string{"30m", "1h 30min", "1.5h", "infinity", ".5", "5s+3", "12.34 .56", "584542y"}

func addSeeds(f *testing.F, path string, seeds []string) {
	for _, s := range seeds {
		f.Add(s)
	}
	for _, e := range readCorpus(f, path) {
		f.Add(e.Input)
	}
}

// FuzzNormalize: no input panics; an error is an *Error pointing inside
// the input; a normalized form is itself valid, normalizes to itself and
// elapses when the input does.
func FuzzNormalize(f *testing.F) {
	addSeeds(f, calendarCorpus, calendarSeeds)
	f.Fuzz(func(t *testing.T, in string) {
		n, err := Normalize(in)
		if err != nil {
			checkError(t, in, err)
			return
		}
		again, err := Normalize(n)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, which is invalid: %v", in, n, err)
		}
		if again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", in, n, n, again)
		}
		// The next elapse is after the base and the same for the
		// normalized form.
		next, ok, err := Next(in, baseTime)
		if err == nil && ok && !next.After(baseTime) {
			t.Fatalf("Next(%q) = %v, not after %v", in, next, baseTime)
		}
		next2, ok2, err2 := Next(n, baseTime)
		if starHidesSeconds(in) {
			// systemd prints "*" for a seconds list holding "0/1",
			// dropping its fractions ("0/1,44.5"): the normalized form
			// may elapse earlier than the input.
			return
		}
		if (err == nil) != (err2 == nil) || ok != ok2 || !next.Equal(next2) {
			t.Fatalf("Next(%q) = %v %v %v, but Next(%q) = %v %v %v", in, next, ok, err, n, next2, ok2, err2)
		}
	})
}

// FuzzParseTimespan: no input panics; an error is an *Error pointing
// inside the input; what FormatTimespan prints parses back to the same
// length.
func FuzzParseTimespan(f *testing.F) {
	addSeeds(f, timespanCorpus, timespanSeeds)
	f.Fuzz(func(t *testing.T, in string) {
		usec, err := parseTimespanUsec(in)
		if err != nil {
			checkError(t, in, err)
			if _, err := ParseTimespan(in); err == nil {
				t.Fatalf("parseTimespanUsec(%q) fails but ParseTimespan accepts it", in)
			}
			return
		}
		human := formatUsec(usec)
		back, err := parseTimespanUsec(human)
		if err != nil || back != usec {
			t.Fatalf("%q = %dus prints as %q, which parses to %d, %v", in, usec, human, back, err)
		}
		if d, err := ParseTimespan(in); err == nil && d != Infinity && FormatTimespan(d) != human {
			t.Fatalf("FormatTimespan(%v) = %q, want %q", d, FormatTimespan(d), human)
		}
	})
}

// starHidesSeconds reports whether in's seconds are "0/1" and more,
// which systemd's normalized form shows as "*".
func starHidesSeconds(in string) bool {
	s, err := parse(in, false)
	if err != nil {
		return false
	}
	sec := s.fields[fieldSecond]
	return len(sec) > 1 && slices.ContainsFunc(sec, func(c component) bool {
		return c.start == 0 && c.stop < 0 && c.repeat == usecPerSec
	})
}

func checkError(t *testing.T, in string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error for %q is %T, want *Error", in, err)
	}
	if e.Input != in || e.Offset < 0 || e.Offset > e.End || e.End > len(in) {
		t.Fatalf("error for %q points outside it: Offset %d, End %d, Input %q", in, e.Offset, e.End, e.Input)
	}
	if e.Problem == "" || !strings.HasSuffix(err.Error(), ".") {
		t.Fatalf("error for %q is not a sentence: %q", in, err.Error())
	}
}

// The differential fuzzers compare bakc with the live systemd-analyze on
// every generated input. Each input costs a process, so they are meant to
// be run by hand for a while (docs/schedules.md):
//
//	go test ./compiler/calendar -run '^$' -fuzz FuzzCalendarAgainstSystemd -fuzztime 10m
//	go test ./compiler/calendar -run '^$' -fuzz FuzzTimespanAgainstSystemd -fuzztime 5m
//
// A plain `go test` runs their seeds, like any fuzz test.

func FuzzCalendarAgainstSystemd(f *testing.F) {
	for _, s := range calendarSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		bin := testenv.SystemdAnalyze(t)
		if !passableArgument(in) || systemOnlyZone(in) {
			t.Skip("not comparable: see the comments of passableArgument and systemOnlyZone")
		}
		want, err := systemdCalendar(bin, in)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameVerdict(want, bakcCalendar(in)); d != "" {
			t.Fatalf("%q: bakc disagrees with systemd-analyze (-systemd +bakc):\n%s", in, d)
		}
	})
}

func FuzzTimespanAgainstSystemd(f *testing.F) {
	for _, s := range timespanSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		bin := testenv.SystemdAnalyze(t)
		if !passableArgument(in) {
			t.Skip("not comparable: see the comment of passableArgument")
		}
		want, err := systemdTimespan(bin, in)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameVerdict(want, bakcTimespan(in)); d != "" {
			t.Fatalf("%q: bakc disagrees with systemd-analyze (-systemd +bakc):\n%s", in, d)
		}
	})
}

// passableArgument: a NUL cannot be passed in argv.
func passableArgument(in string) bool { return !strings.ContainsRune(in, 0) }

// systemOnlyZone reports whether in ends in a name that this machine's
// /usr/share/zoneinfo has but bakc's fixed list does not ("posix/…",
// "right/…", "localtime"): systemd accepts it here, bakc refuses it on
// purpose (docs/schedules.md).
func systemOnlyZone(in string) bool {
	i := strings.LastIndexByte(in, ' ')
	if i < 0 {
		return false
	}
	name := in[i+1:]
	if name == "" || ValidTimezone(name) || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return false
	}
	st, err := os.Stat(filepath.Join("/usr/share/zoneinfo", name))
	return err == nil && st.Mode().IsRegular()
}

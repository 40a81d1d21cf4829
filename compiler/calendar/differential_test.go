package calendar

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestGeneratedAgainstSystemd compares bakc with the live systemd-analyze
// on expressions exprGen builds: the verdict, the normalized form, and
// the next genIterations elapses from a base time, in a local zone that
// changes from batch to batch. `go test` runs a few thousand with a
// fixed seed; a long run (docs/schedules.md) is
//
//	go test ./compiler/calendar -run GeneratedAgainstSystemd -gen.seed 0 -gen.time 30m -timeout 0 -v
var (
	genSeed  = flag.Uint64("gen.seed", 1, "seed of TestGeneratedAgainstSystemd; 0 picks one from the clock (and logs it)")
	genCount = flag.Int("gen.n", 8000, "expressions TestGeneratedAgainstSystemd compares, unless -gen.time is set")
	genTime  = flag.Duration("gen.time", 0, "compare generated expressions for this long instead of -gen.n")
)

const (
	// genIterations is how many elapses are compared: with one, a
	// repetition's step would hardly be checked.
	genIterations = 5
	// genBatch is how many expressions one systemd-analyze process takes.
	genBatch = 250
	// genMaxDiffs ends a run: one defect tends to show in many inputs.
	genMaxDiffs = 20
)

// genLocalZones are the zones systemd-analyze runs in (TZ), that is the
// node's local zone for expressions without their own.
//
// Besides the common ones: Lord Howe changes by 30 minutes, Havana and
// Santiago at midnight, Dublin's winter time is its "daylight saving"
// (negative DST), Casablanca leaves its DST for Ramadan, Troll changes by
// two hours, Apia skipped 2011-12-30.
var genLocalZones = []string{"UTC", "UTC", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
	"America/Havana", "America/Santiago", "Europe/Dublin", "Africa/Casablanca", "Antarctica/Troll", "Pacific/Apia"}

// genBatchSpec is what one systemd-analyze run shares: its zone, its base
// time and the expressions.
type genBatchSpec struct {
	local string
	base  time.Time
	exprs []string
}

func TestGeneratedAgainstSystemd(t *testing.T) {
	bin := testenv.SystemdAnalyze(t)
	seed := *genSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-gen.seed %d repeats this run)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x6261_6b63))
	deadline := time.Time{}
	if *genTime > 0 {
		deadline = time.Now().Add(*genTime)
	}
	begin := time.Now()

	batches := make(chan genBatchSpec)
	type diff struct{ local, base, expr, text string }
	var (
		mu                           sync.Mutex
		diffs                        []diff
		compared, valid, never, errs int
	)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for b := range batches {
				live, err := systemdCalendarBatch(bin, b.local, b.base, genIterations, b.exprs)
				if err != nil {
					t.Error(err)
					continue
				}
				loc, err := time.LoadLocation(b.local)
				if err != nil {
					t.Error(err)
					continue
				}
				for i, e := range b.exprs {
					got := bakcCalendarIterations(e, b.base.In(loc), genIterations)
					d := sameVerdict(live[i], got)
					mu.Lock()
					compared++
					if live[i].Valid {
						valid++
						switch live[i].Next {
						case "never":
							never++
						case "error":
							errs++
						}
					}
					if d != "" {
						diffs = append(diffs, diff{b.local, b.base.UTC().Format(time.RFC3339Nano), e, d})
					}
					mu.Unlock()
				}
			}
		})
	}
	g := &exprGen{r: r}
	for n := 0; ; n += genBatch {
		if deadline.IsZero() && n >= *genCount || !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		mu.Lock()
		stop := len(diffs) >= genMaxDiffs
		mu.Unlock()
		if stop {
			break
		}
		b := genBatchSpec{local: pick(g, genLocalZones...), base: g.baseTime()}
		g.localZone = b.local
		for range genBatch {
			b.exprs = append(b.exprs, g.expr())
		}
		batches <- b
	}
	close(batches)
	wg.Wait()

	t.Logf("compared %d generated expressions with systemd-analyze in %v: %d valid (%d never elapse, %d hit the 1000-step limit), %d invalid",
		compared, time.Since(begin).Round(time.Second), valid, never, errs, compared-valid)
	for _, d := range diffs {
		t.Errorf("TZ=%s, base %s, %q: bakc disagrees with systemd-analyze (-systemd +bakc):\n%s", d.local, d.base, d.expr, d.text)
	}
	require.Greater(t, valid, compared/5, "the generator makes too few valid expressions to test the next elapse")
	require.Greater(t, compared-valid, compared/10, "the generator makes too few invalid expressions")
}

// baseTime is a base for the next elapses: the corpus' fixed one, a
// random second (with microseconds now and then) from 1970 (mostly 2020)
// to 2199, or an instant near a change of offset in one of the local
// zones.
func (g *exprGen) baseTime() time.Time {
	switch x := g.r.Float64(); {
	case x < 0.4:
		return baseTime
	case x < 0.8:
		from := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		if g.chance(0.7) {
			from = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		}
		t := time.Unix(from+g.r.Int64N(maxEpoch-from), 0).UTC()
		if g.chance(0.3) {
			t = t.Add(time.Duration(g.r.IntN(usecPerSec)) * time.Microsecond)
		}
		return t
	}
	loc, err := time.LoadLocation(pick(g, genLocalZones[3:]...))
	if err != nil {
		panic(err)
	}
	changes := offsetChanges(loc, pick(g, 1996, 2011, 2024, 2025, 2026, 2027, 2028, 2029, 2030, 2050))
	if len(changes) == 0 {
		return baseTime
	}
	return pick(g, changes...).Add(time.Duration(g.between(-4*3600, 3600)) * time.Second).UTC()
}

// bakcCalendarIterations is bakc's verdict with the next n elapses, in
// the form systemdCalendarBatch gives systemd's: one line per elapse,
// in UTC; "never" when there is none; "error" when the search gives up
// (systemd-analyze then prints nothing for the expression).
func bakcCalendarIterations(expr string, base time.Time, n int) systemdVerdict {
	norm, err := Normalize(expr)
	if err != nil {
		return systemdVerdict{Message: err.Error()}
	}
	v := systemdVerdict{Valid: true, Normalized: norm}
	var lines []string
	at := base
	for i := range n {
		next, ok, err := Next(expr, at)
		if err != nil {
			v.Next = "error"
			return v
		}
		if !ok {
			if i == 0 {
				lines = append(lines, "never")
			}
			break
		}
		lines = append(lines, next.UTC().Format(systemdTimestamp))
		at = next
	}
	v.Next = strings.Join(lines, "\n")
	return v
}

// systemdCalendarBatch runs one systemd-analyze calendar on all exprs
// with the local zone local, from base, showing n iterations. It prints
// one block per expression, separated by empty lines, and an empty block
// for an expression it refuses or whose next elapse it cannot compute;
// its stderr then has a "Failed to …" line per empty block, in order,
// which tells the two apart. Expressions must not hold a newline.
func systemdCalendarBatch(bin, local string, base time.Time, n int, exprs []string) ([]systemdVerdict, error) {
	args := []string{"calendar", fmt.Sprintf("--iterations=%d", n),
		fmt.Sprintf("--base-time=@%d.%06d", base.Unix(), base.Nanosecond()/1000), "--"}
	args = append(args, exprs...)
	stdout, stderr, _, err := runSystemdAnalyzeTZ(bin, local, args...)
	if err != nil {
		return nil, err
	}
	var failures []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "Failed to ") {
			failures = append(failures, line)
		}
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if stdout == "" {
		lines = nil
	}
	out := make([]systemdVerdict, len(exprs))
	pos := 0
	for i, e := range exprs {
		if strings.ContainsAny(e, "\n") {
			return nil, fmt.Errorf("expression %q holds a newline", e)
		}
		var block []string
		for pos < len(lines) && lines[pos] != "" {
			block = append(block, lines[pos])
			pos++
		}
		if i < len(exprs)-1 {
			if pos >= len(lines) || lines[pos] != "" {
				return nil, fmt.Errorf("systemd-analyze output out of step at %q:\n%s", e, stdout)
			}
			pos++
		}
		if len(block) == 0 {
			if len(failures) == 0 {
				return nil, fmt.Errorf("systemd-analyze printed nothing for %q and no error:\n%s", e, stderr)
			}
			f := failures[0]
			failures = failures[1:]
			// systemd's log lines end after 2047 bytes: a long
			// expression's line is cut, reason and all.
			names := func(prefix string) bool {
				want := prefix + "'" + e + "'"
				return strings.HasPrefix(f, want) || len(f) >= 2047 && strings.HasPrefix(want, f)
			}
			switch {
			case names("Failed to parse calendar specification "):
				msg := "(cut off)"
				if strings.HasPrefix(f, "Failed to parse calendar specification '"+e+"'") {
					msg = lastReason(f)
				}
				out[i] = systemdVerdict{Message: msg}
			case names("Failed to determine next elapse for "):
				// Valid, but the search gave up: ask again without the
				// elapses for the normalized form.
				one, err := systemdCalendarTZ(bin, local, base, e)
				if err != nil {
					return nil, err
				}
				out[i] = systemdVerdict{Valid: true, Normalized: one, Next: "error"}
			default:
				return nil, fmt.Errorf("systemd-analyze printed nothing for %q, and its next error is %q", e, f)
			}
			continue
		}
		v, err := parseCalendarBlock(block)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", e, err)
		}
		out[i] = v
	}
	if pos != len(lines) || len(failures) != 0 {
		return nil, fmt.Errorf("systemd-analyze printed more than asked for (%d of %d lines read, errors left: %q):\n%s", pos, len(lines), failures, stdout)
	}
	return out, nil
}

// parseCalendarBlock reads one expression's table: its normalized form
// and its elapses, in UTC ("(in UTC):" lines when the local zone is not
// UTC).
func parseCalendarBlock(block []string) (systemdVerdict, error) {
	v := systemdVerdict{Valid: true}
	var local, utc []string
	for _, line := range block {
		line = strings.TrimLeft(line, " ")
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			return v, fmt.Errorf("unexpected line %q", line)
		}
		switch {
		case name == "Normalized form":
			v.Normalized = value
		case name == "Next elapse" || strings.HasPrefix(name, "Iter. #"):
			local = append(local, value)
		case name == "(in UTC)":
			utc = append(utc, value)
		case name == "Original form" || name == "From now":
		default:
			return v, fmt.Errorf("unexpected line %q", line)
		}
	}
	switch {
	case v.Normalized == "" || len(local) == 0:
		return v, fmt.Errorf("no normalized form or next elapse in %q", block)
	case len(utc) > 0:
		v.Next = strings.Join(utc, "\n")
	default:
		v.Next = strings.Join(local, "\n")
	}
	return v, nil
}

// systemdCalendarTZ is the normalized form of one expression that
// systemd-analyze accepts, without elapses.
func systemdCalendarTZ(bin, local string, base time.Time, expr string) (string, error) {
	stdout, stderr, _, err := runSystemdAnalyzeTZ(bin, local, "calendar", "--iterations=0", "--", expr)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimLeft(sc.Text(), " "), "Normalized form: "); ok {
			return rest, nil
		}
	}
	return "", fmt.Errorf("systemd-analyze calendar %q: no normalized form:\n%s%s", expr, stdout, stderr)
}

// TestSystemdCalendarBatch checks the batch reader against what one
// process per expression says, on a mix of valid, invalid and dead
// expressions, so that a misread block cannot pass as agreement.
func TestSystemdCalendarBatch(t *testing.T) {
	bin := testenv.SystemdAnalyze(t)
	exprs := []string{"daily", "dayly", "*-02-30", "*:0/15", "2020-01-01", "Mon *-*~1,27", "Mon *-*~1,25 UTC", "x", "*-*-* 02:30 Europe/Berlin",
		// Refused, with a log line longer than systemd writes.
		"*-*-* *:*:" + strings.Repeat("1.5,", 700) + "x"}
	got, err := systemdCalendarBatch(bin, "UTC", baseTime, 1, exprs)
	require.NoError(t, err)
	for i, e := range exprs {
		want, err := systemdCalendar(bin, e)
		require.NoError(t, err)
		if got[i].Message == "(cut off)" {
			got[i].Message = want.Message
		}
		if d := cmp.Diff(want, got[i]); d != "" {
			t.Errorf("%q (-one by one +batch):\n%s", e, d)
		}
	}
	// Several iterations in a local zone with daylight saving time.
	got, err = systemdCalendarBatch(bin, "Europe/Berlin", time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC), 3, []string{"*-*-* 02:30", "bogus"})
	require.NoError(t, err)
	require.Equal(t, "Mon 2025-03-31 00:30:00 UTC\nTue 2025-04-01 00:30:00 UTC\nWed 2025-04-02 00:30:00 UTC", got[0].Next)
	require.False(t, got[1].Valid)
}

// generatedCorpus keeps what the generated test found: expressions whose
// answer depends on the local zone and the base time, with
// systemd-analyze's verdict and its first genIterations elapses.
const generatedCorpus = "testdata/generated.txt"

const generatedHeader = `# Expressions the generated differential test (differential_test.go) found
# bakc and systemd-analyze to disagree on, before the fix that followed.
# Columns, tab-separated: the Go-quoted expression, the local zone (TZ),
# the base time (@seconds.microseconds), ok or invalid, and the Go-quoted
# normalized form and next elapses (UTC, one a line, "never", or "error"
# when systemd gives up) or systemd's error text. To add a case, add a
# line with the first three columns and run
#   go test ./compiler/calendar -run GeneratedCorpus -update
`

type generatedEntry struct {
	Line    int
	Expr    string
	Local   string
	Base    time.Time
	Verdict systemdVerdict
	Filled  bool
}

func readGeneratedCorpus(t *testing.T) []generatedEntry {
	t.Helper()
	data, err := os.ReadFile(generatedCorpus)
	require.NoError(t, err)
	var out []generatedEntry
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		require.True(t, len(f) == 3 || len(f) == 5, "%s:%d: want 3 or 5 columns", generatedCorpus, i+1)
		e := generatedEntry{Line: i + 1, Local: f[1]}
		e.Expr, err = strconv.Unquote(f[0])
		require.NoError(t, err, "%s:%d", generatedCorpus, i+1)
		sec, usec, ok := strings.Cut(strings.TrimPrefix(f[2], "@"), ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		u, err2 := strconv.ParseInt(usec, 10, 64)
		require.True(t, ok && err1 == nil && err2 == nil && len(usec) == 6, "%s:%d: base %q", generatedCorpus, i+1, f[2])
		e.Base = time.Unix(s, u*1000).UTC()
		if len(f) == 5 {
			v, err := strconv.Unquote(f[4])
			require.NoError(t, err, "%s:%d", generatedCorpus, i+1)
			switch f[3] {
			case "ok":
				norm, next, _ := strings.Cut(v, "\n")
				e.Verdict = systemdVerdict{Valid: true, Normalized: norm, Next: next}
			case "invalid":
				e.Verdict = systemdVerdict{Message: v}
			default:
				t.Fatalf("%s:%d: verdict %q", generatedCorpus, i+1, f[3])
			}
			e.Filled = true
		}
		out = append(out, e)
	}
	return out
}

func formatBase(t time.Time) string { return fmt.Sprintf("@%d.%06d", t.Unix(), t.Nanosecond()/1000) }

func writeGeneratedCorpus(t *testing.T, entries []generatedEntry) {
	t.Helper()
	var b strings.Builder
	b.WriteString(generatedHeader)
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\t%s\t", strconv.Quote(e.Expr), e.Local, formatBase(e.Base))
		if e.Verdict.Valid {
			fmt.Fprintf(&b, "ok\t%s\n", strconv.Quote(e.Verdict.Normalized+"\n"+e.Verdict.Next))
		} else {
			fmt.Fprintf(&b, "invalid\t%s\n", strconv.Quote(e.Verdict.Message))
		}
	}
	require.NoError(t, os.WriteFile(generatedCorpus, []byte(b.String()), 0o644))
}

func TestGeneratedCorpus(t *testing.T) {
	entries := readGeneratedCorpus(t)
	ask := func(bin string) []systemdVerdict {
		out := make([]systemdVerdict, len(entries))
		for i, e := range entries {
			v, err := systemdCalendarBatch(bin, e.Local, e.Base, genIterations, []string{e.Expr})
			require.NoError(t, err)
			out[i] = v[0]
		}
		return out
	}
	if *update {
		live := ask(testenv.SystemdAnalyze(t))
		for i := range entries {
			entries[i].Verdict, entries[i].Filled = live[i], true
		}
		writeGeneratedCorpus(t, entries)
	}
	bakc := func(e generatedEntry) systemdVerdict {
		loc, err := time.LoadLocation(e.Local)
		require.NoError(t, err)
		return bakcCalendarIterations(e.Expr, e.Base.In(loc), genIterations)
	}
	for _, e := range entries {
		if !e.Filled {
			t.Errorf("%s:%d: %q has no verdict yet: run -update", generatedCorpus, e.Line, e.Expr)
			continue
		}
		if d := sameVerdict(e.Verdict, bakc(e)); d != "" {
			t.Errorf("%s:%d: TZ=%s, base %s, %q: bakc disagrees with the stored systemd verdict (-systemd +bakc):\n%s",
				generatedCorpus, e.Line, e.Local, formatBase(e.Base), e.Expr, d)
		}
	}
	t.Run("systemd-analyze", func(t *testing.T) {
		live := ask(testenv.SystemdAnalyze(t))
		for i, e := range entries {
			if d := sameVerdict(live[i], e.Verdict); d != "" {
				t.Errorf("%s:%d: %q: the stored verdict is out of date (-live +stored); run -update:\n%s", generatedCorpus, e.Line, e.Expr, d)
			}
		}
	})
}

package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// The corpus (corpus_test.go) proves bakc's verdicts and normalized forms
// equal systemd's. These tests are about what systemd does not give: the
// quality of the messages, which must say what is wrong, where, and what
// to write instead.

func TestNormalizeErrors(t *testing.T) {
	tests := []struct {
		name, in string
		column   int
		problem  string
		hint     string // a part of the hint that must be there
	}{
		{"empty", "", 1, "The schedule is empty", `"daily"`},
		{"misspelled shorthand", "dayly", 1, `"dayly" is not a shorthand systemd knows`, `Did you mean "daily"?`},
		{"unknown shorthand", "nightly", 1, `"nightly" is not a shorthand systemd knows`, "minutely, hourly, daily"},
		{"unknown first word", "Mox 10:00", 1, `"Mox" is neither a weekday nor a shorthand`, `Did you mean "Mon"?`},
		{"not a weekday", "Mondays 10:00", 1, `"Mondays" is not a weekday`, "Mon, Tue"},
		{"colon after weekday", "Mon:10:00", 4, `Unexpected ":" after the weekday "Mon"`, "with a space"},
		{"backwards weekdays", "Fri..Mon 10:00", 1, `The weekday range "Fri..Mon" runs backwards`, `"Fri..Sun,Mon"`},
		{"open weekday range", "Mon.. 10:00", 1, `The weekday range "Mon.." has no end`, `"Mon..Fri"`},
		{"weekday after comma", "Mon,Foo", 5, `Expected a weekday, found "Foo"`, "Mon, Tue"},
		{"misspelled zone", "daily Europe/Berln", 7, `"Europe/Berln" is not a time zone`, `Did you mean "Europe/Berlin"?`},
		{"zone case", "daily europe/berlin", 7, `"europe/berlin" is not a time zone`, `Did you mean "Europe/Berlin"?`},
		{"zone after time", "*-*-* 02:00 Mars/Olympus", 13, `"Mars/Olympus" is not a time zone`, "IANA names"},
		{"hour out of range", "*-*-* 25:00", 7, `The hour "25" is out of range`, "from 0 to 23"},
		{"minute out of range", "*-*-* 23:60", 10, `The minute "60" is out of range`, "from 0 to 59"},
		{"month out of range", "2025-13-01", 6, `The month "13" is out of range`, "from 1 to 12"},
		{"year before 1970", "1969-12-31", 1, `The year "1969" is out of range`, "1970 to 2199"},
		{"end of month too far", "*-*~29", 5, `The day "29" is out of range`, "from 1 to 28"},
		{"end of month list", "*-*~1,27", 7, `The day "27" is out of range`, `"27" is value 2, so it may be at most 25`},
		{"end of month list unsorted", "*-*~27,1,1", 5, `The day "27" is out of range`, `"27" is value 2, so it may be at most 25`},
		{"end of month list range", "*-*~1..26,1", 5, `The end of the day range "1..26" is out of range`, "at most 25"},
		{"range end out of range", "*-*-* 8..24:00", 7, `The end of the hour range "8..24" is out of range`, "from 0 to 23"},
		{"backwards range", "*-*-* 5..3:00", 7, `The hour range "5..3" is empty or runs backwards`, `"08..17"`},
		{"repetition never repeats", "*-*-* 23/2:00", 7, `The repetition in "23/2" never repeats`, "shorter repetition"},
		{"repetition of zero", "*-*-* 0/0:00", 9, "A repetition of 0 never advances", `"*:0/15"`},
		{"missing minutes", "*-*-* 5", 8, `Expected ":" after the hour, found the end of the expression`, "HOUR:MINUTE"},
		{"slash date", "2025/06/01", 8, `Unexpected "/" after "2025/06"`, "date parts by"},
		{"fraction in hour", "*-*-* 8.5:00", 8, `Unexpected "." after "8"`, "Only seconds may have a fraction"},
		{"empty fraction", "12:00:00.", 9, `The fraction in "00." has no digits`, `"30.5"`},
		{"short seconds range", "12:00:05.25..05.75", 7, `The seconds range "05.25..05.75" is shorter than one second`, "give a step"},
		{"epoch without number", "@x", 1, `"@" is not followed by a number`, "seconds since 1970"},
		{"epoch after 2199", "@7258118400", 1, `The time "@7258118400" is out of range`, "end of 2199"},
		{"too many values", "*-*-* *:" + strings.Repeat("1,", 241) + "1", 491, "More than 241 values in one field", "range"},
		{"huge number", "*-*-* 00:00:2147483648", 13, `The number "2147483648" is too large`, "2199"},
		{"junk after a value", "*-*-* 02:30x", 12, `Unexpected "x" after "30"`, "values are separated"},
		{"junk after minutes", "*-*-* 02:30-5", 12, `Unexpected "-5" after the minutes`, "time zone name"},
		{"junk after seconds", "*-*-* 02:30:00:00", 15, `Unexpected ":00" after the seconds`, "time zone name"},
		{"word after time", "*-*-* 02:30 x", 13, `"x" is not a time zone`, "IANA names"},
		{"non-ASCII column", "Mon…Fri 02:30", 4, `Unexpected "…" after the weekday "Mon"`, "with a space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.in)
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "error is %T, want *Error", err)
			if diff := cmp.Diff(tt.problem, e.Problem); diff != "" {
				t.Errorf("Problem (-want +got):\n%s", diff)
			}
			if e.Column() != tt.column {
				t.Errorf("Column() = %d, want %d (%v)", e.Column(), tt.column, err)
			}
			if !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("Hint %q does not contain %q", e.Hint, tt.hint)
			}
			require.LessOrEqual(t, 0, e.Offset)
			require.LessOrEqual(t, e.Offset, e.End)
			require.LessOrEqual(t, e.End, len(tt.in))
			// The whole message names the input and the column, and ends in
			// a sentence.
			msg := err.Error()
			require.Contains(t, msg, e.Problem)
			require.True(t, strings.HasSuffix(msg, "."), "message %q does not end a sentence", msg)
		})
	}
}

func TestErrorText(t *testing.T) {
	_, err := Normalize("*-*-* 25:00")
	want := `The hour "25" is out of range (column 7 of "*-*-* 25:00"). The hour goes from 0 to 23.`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseTimespanErrors(t *testing.T) {
	tests := []struct {
		name, in string
		column   int
		problem  string
		hint     string
	}{
		{"empty", "", 1, "The time span is empty", `"30min"`},
		{"blank", "  ", 1, "The time span is empty", `"infinity"`},
		{"misspelled unit", "5minuts", 2, `"minuts" is not a time unit`, `Did you mean "minutes"?`},
		{"unknown unit", "5x", 2, `"x" is not a time unit`, "The units are"},
		{"capital S", "5S", 2, `"S" is not a time unit`, "The units are"},
		{"comma", "5s,10s", 3, `Unexpected "," in the time span`, `"1h 30min"`},
		{"two points", "12.34.56", 6, `Unexpected "." in the time span`, `"1.5h"`},
		{"negative", "-1", 1, "A time span cannot be negative", `"30min"`},
		{"point without digits", "3.sec", 2, `The decimal point in "3." has no digits after it`, `"1.5h"`},
		{"infinity and more", "infinity 5s", 9, `Unexpected " 5s" after "infinity"`, "stands alone"},
		{"beyond systemd", "584542y", 1, `The time span "584542y" is too long`, `"infinity"`},
		{"beyond time.Duration", "300y", 1, `The time span "300y" is longer than bakc supports (292 years)`, `"infinity"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTimespan(tt.in)
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "error is %T, want *Error", err)
			if diff := cmp.Diff(tt.problem, e.Problem); diff != "" {
				t.Errorf("Problem (-want +got):\n%s", diff)
			}
			if e.Column() != tt.column {
				t.Errorf("Column() = %d, want %d (%v)", e.Column(), tt.column, err)
			}
			if !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("Hint %q does not contain %q", e.Hint, tt.hint)
			}
		})
	}
}

func TestParseTimespan(t *testing.T) {
	tests := []struct {
		in    string
		want  time.Duration
		human string
	}{
		{"30m", 30 * time.Minute, "30min"},
		{"1h 30min", 90 * time.Minute, "1h 30min"},
		{"90", 90 * time.Second, "1min 30s"},
		{"1.5s", 1500 * time.Millisecond, "1.500000s"},
		{"2h 0.5min", 2*time.Hour + 30*time.Second, "2h 30s"},
		{"1M", 2629800 * time.Second, "1month"},
		{"0", 0, "0"},
		{"infinity", Infinity, "infinity"},
		{" 12h ", 12 * time.Hour, "12h"},
		{"10us", 10 * time.Microsecond, "10us"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTimespan(tt.in)
			require.NoError(t, err)
			if got != tt.want {
				t.Errorf("ParseTimespan(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if h := FormatTimespan(got); h != tt.human {
				t.Errorf("FormatTimespan(%v) = %q, want %q", got, h, tt.human)
			}
		})
	}
}

func TestValidTimezone(t *testing.T) {
	for name, want := range map[string]bool{
		"UTC": true, "Europe/Berlin": true, "America/Argentina/Buenos_Aires": true, "Etc/GMT+5": true,
		"europe/berlin": false, "Europe/Berlin/": false, "/Europe/Berlin": false, "": false,
		"posix/Europe/Berlin": false, "localtime": false, "../etc/passwd": false, "CEST": false,
	} {
		if got := ValidTimezone(name); got != want {
			t.Errorf("ValidTimezone(%q) = %v, want %v", name, got, want)
		}
	}
	require.Greater(t, len(zoneNames), 500, "the generated zone list is suspiciously short")
	require.True(t, sortedUnique(zoneNames), "zoneNames must be sorted for the binary search")
}

func sortedUnique(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

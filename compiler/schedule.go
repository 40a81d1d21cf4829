package compiler

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/schema"
)

// checkSchedule reports a value that is not a systemd calendar
// expression, checked in Go (package calendar) so that bakc needs no
// systemd on the machine that compiles.
func checkSchedule(t *schema.Text, what string) hcl.Diagnostics {
	if _, err := calendar.Normalize(t.Value); err != nil {
		return hcl.Diagnostics{errorAt(narrowRange(t, err), "Invalid schedule",
			"The %s %q is not a systemd calendar expression: %s See systemd.time(7); \"daily\", \"Mon *-*-* 03:00\" and \"*-*-* 02,14:30\" are examples.", what, t.Value, err)}
	}
	// systemd loads a timer that never elapses without a word, and the
	// task then silently never runs: the failure this compiler exists to
	// catch. UTC stands for the node's zone, which is not known here.
	if _, ok, err := calendar.Next(t.Value, now().UTC()); err == nil && !ok {
		return hcl.Diagnostics{errorAt(t.Range, "Schedule never fires",
			"The %s %q never elapses again (a date in the past, or one that does not exist such as February 30), so the timer would never start the task. Write a repeating schedule such as \"daily\" or \"*-*-* 02:30\".", what, t.Value)}
	}
	return nil
}

// now is the clock the never-fires check reads; tests may replace it.
var now = time.Now

// checkTimespan reports a value that is not a systemd time span.
func checkTimespan(t *schema.Text, what string) hcl.Diagnostics {
	if _, err := calendar.ParseTimespan(t.Value); err != nil {
		return hcl.Diagnostics{errorAt(narrowRange(t, err), "Invalid time span",
			"The %s %q is not a systemd time span: %s Write a span such as \"30m\", \"1h 30min\" or \"12h\".", what, t.Value, err)}
	}
	return nil
}

// narrowRange points at the offending part of a string when the value
// is a plain one-line string literal (its range is the value in quotes),
// and at the whole expression otherwise.
func narrowRange(t *schema.Text, err error) hcl.Range {
	var ce *calendar.Error
	rng := t.Range
	if !errors.As(err, &ce) || rng.Start.Line != rng.End.Line ||
		rng.End.Byte-rng.Start.Byte != len(t.Value)+2 {
		return rng
	}
	start, end := ce.Offset, ce.End
	if start < 0 || end > len(t.Value) || start > end {
		return rng
	}
	if end == start {
		// Something is missing: point at where it should be.
		if end < len(t.Value) {
			end++
		} else if start > 0 {
			start--
		} else {
			return rng
		}
	}
	out := rng
	out.Start.Byte = rng.Start.Byte + 1 + start
	out.Start.Column = rng.Start.Column + 1 + utf8.RuneCountInString(t.Value[:start])
	out.End.Byte = rng.Start.Byte + 1 + end
	out.End.Column = rng.Start.Column + 1 + utf8.RuneCountInString(t.Value[:end])
	return out
}

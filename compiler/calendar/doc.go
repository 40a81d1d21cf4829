// Package calendar checks systemd calendar expressions (OnCalendar=) and
// time spans (RandomizedDelaySec=, TimeoutStartSec=) in Go, the way
// systemd 252 does, so that a schedule is proven valid when bakc compiles
// a configuration — on a laptop without systemd — and not when a timer
// fails to load on the node.
//
// The parser is a port of systemd's calendarspec.c and time-util.c
// (parse_time, format_timespan): the same grammar, the same limits, the
// same normalized form. testdata/calendar.txt and testdata/timespan.txt
// hold several hundred inputs with systemd-analyze's verdicts; the tests
// check bakc against them always, and against the live systemd-analyze
// when it is installed (CI requires it). docs/schedules.md describes the
// accepted language and the two deliberate differences (time zone names
// come from a fixed list; the target's local zone abbreviations are not
// known).
package calendar

package calendar

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error says why a calendar expression or a time span was rejected, and
// where. Its Error() text is whole sentences meant for a diagnostic's
// Detail: what is wrong, at which column of the value, and what to write
// instead. Offset and End let a caller that knows where the string sits in
// a file point at the offending part itself.
type Error struct {
	// Input is the expression or time span exactly as it was given.
	Input string
	// Offset is the byte offset in Input where the problem starts, End the
	// byte offset where the offending part ends (End >= Offset; equal when
	// something is missing rather than wrong).
	Offset, End int
	// Problem says what is wrong, as a sentence without its final period.
	Problem string
	// Hint says what to write instead, as whole sentences; may be empty.
	Hint string
}

// Column is the 1-based column, counted in characters, of Offset in Input.
func (e *Error) Column() int {
	off := min(max(e.Offset, 0), len(e.Input))
	return utf8.RuneCountInString(e.Input[:off]) + 1
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (column %d of %q).", e.Problem, e.Column(), e.Input)
	if e.Hint != "" {
		b.WriteString(" ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

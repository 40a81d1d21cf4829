package calendar

import (
	"fmt"
	"time"
)

// Elapses calls yield with each time expr elapses after the instant
// after, in order, as Next would return them one after the other, until
// yield returns false or expr never elapses again. It parses expr once,
// for checks that walk many elapses (how often a schedule runs).
func Elapses(expr string, after time.Time, yield func(time.Time) bool) error {
	s, perr := parse(expr, true)
	if perr != nil {
		return perr
	}
	loc := after.Location()
	switch {
	case s.utc:
		loc = time.UTC
	case s.timezone != "":
		var err error
		if loc, err = time.LoadLocation(s.timezone); err != nil {
			return fmt.Errorf("calendar: time zone %s: %w", s.timezone, err)
		}
	}
	for {
		next, ok, err := s.next(after, loc)
		if err != nil || !ok {
			return err
		}
		if !yield(next) {
			return nil
		}
		after = next
	}
}

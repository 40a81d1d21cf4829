package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTimestamp reads a point in time a person gives on the node, such
// as `bakc restore --time "2 days ago"`. It reads a small part of
// systemd's timestamp syntax (systemd.time(7), what `systemd-analyze
// timestamp` and `journalctl --since` read), so that what works there
// works here, plus RFC 3339 (what restic's JSON prints):
//
//	now, today, yesterday          today and yesterday at 00:00:00
//	SPAN ago, -SPAN                a systemd time span before now:
//	                               "2 days ago", "3h ago", "-1w 2d"
//	YYYY-MM-DD [HH:MM[:SS]] [UTC]  a date (00:00:00 when the time is
//	                               left out), in now's zone or in UTC
//	HH:MM[:SS] [UTC]               today at that time
//	@SECONDS                       Unix time
//	2026-11-28T02:00:00Z           RFC 3339, with its own offset
//
// Local times are read in now's location (the node's zone); a local time
// that a DST change skips or repeats is read as Go's time.Date reads it.
// The error says what is accepted.
func ParseTimestamp(s string, now time.Time) (time.Time, error) {
	in := strings.TrimSpace(s)
	loc := now.Location()
	midnight := func(t time.Time) time.Time {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	switch in {
	case "now":
		return now, nil
	case "today":
		return midnight(now), nil
	case "yesterday":
		return midnight(now).AddDate(0, 0, -1), nil
	}
	if span, ok := strings.CutSuffix(in, " ago"); ok {
		return relative(s, strings.TrimSpace(span), now)
	}
	if span, ok := strings.CutPrefix(in, "-"); ok {
		return relative(s, span, now)
	}
	if secs, ok := strings.CutPrefix(in, "@"); ok {
		f, err := strconv.ParseFloat(secs, 64)
		if err != nil || f < 0 || strings.ContainsAny(secs, "eEinxX") {
			return time.Time{}, timestampError(s)
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).In(loc), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, in); err == nil {
		return t, nil
	}
	if rest, ok := strings.CutSuffix(in, " UTC"); ok {
		in, loc = strings.TrimSpace(rest), time.UTC
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, in, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, in, loc); err == nil {
			y, m, d := now.In(loc).Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, loc), nil
		}
	}
	return time.Time{}, timestampError(s)
}

// relative is now minus a systemd time span.
func relative(s, span string, now time.Time) (time.Time, error) {
	d, err := ParseTimespan(span)
	if err != nil || d == Infinity {
		return time.Time{}, timestampError(s)
	}
	return now.Add(-d), nil
}

func timestampError(s string) error {
	return fmt.Errorf(`%q is not a time bakc reads: give "now", "today", "yesterday", a span before now ("2 days ago", "3h ago", "-1w"), a date and time ("2026-11-28", "2026-11-28 02:00", "2026-11-28 02:00:00 UTC"), a time of today ("14:30"), Unix time ("@1795827600") or RFC 3339 ("2026-11-28T02:00:00Z")`, s)
}

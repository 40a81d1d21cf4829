package calendar

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

func TestParseTimestamp(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	now := time.Date(2026, 11, 30, 3, 41, 35, 0, berlin)
	for _, tc := range []struct {
		name, in string
		want     time.Time
	}{
		{"now", "now", now},
		{"today", "today", time.Date(2026, 11, 30, 0, 0, 0, 0, berlin)},
		{"yesterday", "yesterday", time.Date(2026, 11, 29, 0, 0, 0, 0, berlin)},
		{"days ago", "2 days ago", now.Add(-48 * time.Hour)},
		{"short span ago", "3h ago", now.Add(-3 * time.Hour)},
		{"minus span", "-1w 2d", now.Add(-9 * 24 * time.Hour)},
		{"date", "2026-11-28", time.Date(2026, 11, 28, 0, 0, 0, 0, berlin)},
		{"date and minutes", "2026-11-28 02:00", time.Date(2026, 11, 28, 2, 0, 0, 0, berlin)},
		{"date and seconds", "2026-11-28 02:00:09", time.Date(2026, 11, 28, 2, 0, 9, 0, berlin)},
		{"UTC", "2026-11-28 02:00 UTC", time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)},
		{"time of today", "14:30", time.Date(2026, 11, 30, 14, 30, 0, 0, berlin)},
		{"unix", "@1795827600", time.Unix(1795827600, 0)},
		{"RFC 3339", "2026-11-28T02:00:00Z", time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)},
		{"RFC 3339 offset", "2026-11-28T02:00:00+01:00", time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)},
		{"spaces", "  2 days ago ", now.Add(-48 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTimestamp(tc.in, now)
			require.NoError(t, err)
			if !got.Equal(tc.want) {
				t.Errorf("ParseTimestamp(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "last tuesday", "2 days", "ago", "2026-13-01", "@x", "-infinity", "2026-11-28 25:00", "infinity ago"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := ParseTimestamp(bad, now)
			require.Error(t, err)
			require.Contains(t, err.Error(), "2 days ago", "the error says what is accepted")
		})
	}
}

// TestParseTimestampAgainstSystemd asks systemd-analyze timestamp about
// every form of systemd's that ParseTimestamp reads, in a zone with
// daylight saving time, and compares the instants (relative forms within
// the seconds between the two clocks).
func TestParseTimestampAgainstSystemd(t *testing.T) {
	bin := testenv.SystemdAnalyze(t)
	const zone = "Europe/Berlin"
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	unixRE := regexp.MustCompile(`UNIX seconds: @([0-9.]+)`)
	for _, in := range []string{
		"now", "today", "yesterday", "2 days ago", "3h ago", "1.5 days ago", "-1w 2d", "1 week ago", "90min ago",
		"2026-11-28", "2026-11-28 02:00", "2026-11-28 02:00:09", "2026-11-28 02:00 UTC",
		"2026-07-01 12:00", "2026-03-29 01:59:59", "14:30", "14:30:15 UTC", "@1795827600",
	} {
		t.Run(in, func(t *testing.T) {
			before := time.Now().In(loc)
			stdout, stderr, exitErr, err := runSystemdAnalyzeTZ(bin, zone, "timestamp", "--", in)
			require.NoError(t, err)
			require.NoError(t, exitErr, "systemd-analyze refused %q: %s", in, stderr)
			m := unixRE.FindStringSubmatch(stdout)
			require.NotNil(t, m, "no UNIX seconds in:\n%s", stdout)
			secs, err := strconv.ParseFloat(m[1], 64)
			require.NoError(t, err)
			want := time.Unix(0, int64(secs*1e9))
			got, err := ParseTimestamp(in, before)
			require.NoError(t, err)
			slack := time.Duration(0)
			if strings.Contains(in, "ago") || strings.HasPrefix(in, "-") || in == "now" {
				slack = 5 * time.Second
			}
			if d := got.Sub(want); d > slack || d < -slack {
				t.Errorf("ParseTimestamp(%q) = %v, systemd says %v", in, got.UTC(), want.UTC())
			}
		})
	}
}

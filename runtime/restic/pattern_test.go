package restic

import "testing"

func TestIncludePattern(t *testing.T) {
	for in, want := range map[string]string{
		"/persist/var/lib/plex":       "/persist/var/lib/plex",
		`/srv/it's [a] *test* $HOME?`: `/srv/it's \[a\] \*test\* $HOME\?`,
		`/a\b`:                        `/a\\b`,
	} {
		if got := IncludePattern(in); got != want {
			t.Errorf("IncludePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

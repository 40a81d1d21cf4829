package escape

import "strconv"

// CommentText returns s as text that stays on one comment line of every
// file bakc writes: a Nix or shell "#" comment (ended by LF, and by CR
// in Nix's lexer), a unit file, tmpfiles.d, sysusers.d or known_hosts
// comment (systemd's line reader also ends a line at CR and NUL, and
// joins a line ending in a backslash), and the runbook's Markdown. A
// value that Go's strconv.Quote would leave as it is (printable UTF-8
// without quotes or backslashes) is written bare, so that ordinary file
// names read as themselves; any other is written as a Go string literal
// in double quotes, with control characters, invalid UTF-8 bytes,
// quotes and backslashes escaped (a newline as \n). So no value can end
// the comment and become code, a setting or a script line (issue 9,
// item 10: a host file name with a newline injected Nix code into
// backup.nix's header).
func CommentText(s string) string {
	q := strconv.Quote(s)
	if q == `"`+s+`"` && s != "" {
		return s
	}
	return q
}

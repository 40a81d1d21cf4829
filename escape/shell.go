package escape

import (
	"fmt"
	"strings"
)

// ShellQuote returns s as one word for a POSIX shell (sh, dash, bash,
// busybox ash): the shell reads it back as exactly s, and nothing in it
// is expanded or run — no $(…), backticks, $VAR, globs, ~, ;, &, |,
// newlines or comments. It is the only way a value from the
// configuration may reach a generated shell script or a command shown
// to the user.
//
// A word made only of characters that no shell treats specially
// (letters, digits and _ @ % + : , . / -) is returned as it is, so that
// generated scripts stay readable (`zfs create -p backup/forge`).
// Everything else is put in single quotes, inside which a shell
// interprets nothing; a single quote itself is written as
//
//	'\''
//
// (close the quotes, an escaped quote, open them again). The empty string
// is written as two single quotes.
//
// "=" is deliberately not in the bare set: a bare `a=b` in the place of
// a command name is a variable assignment, not a word.
//
// s must not contain a NUL byte: no shell and no program argument can
// carry one, so there is no correct quoting. Reject such values first
// with CheckShellWord; ShellQuote panics on them rather than silently
// pass on a different string.
func ShellQuote(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		panic(fmt.Sprintf("escape.ShellQuote: %q contains a NUL byte; reject it with CheckShellWord first", s))
	}
	if s == "" {
		return "''"
	}
	if isBareShellWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CheckShellWord reports why s cannot be passed as one shell word, or
// nil if ShellQuote can quote it. Only the NUL byte is impossible;
// callers that also want to refuse newlines or control characters (an
// exports line, an authorized_keys line) check that themselves.
func CheckShellWord(s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("contains a NUL byte at offset %d, which no shell word or program argument can carry", i)
	}
	return nil
}

// isBareShellWord reports whether s needs no quotes: every byte is one
// that no POSIX shell gives a meaning to, in any position.
func isBareShellWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_@%+:,./-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

package escape

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// NixString returns s as a Nix double-quoted string literal that
// evaluates to exactly s. It is how every value of the plan reaches a
// generated backup.nix.
//
// Inside "…" Nix gives a meaning to `"`, `\` and `${` (an antiquotation
// that would run Nix code: a path such as /srv/${x} must not), so those
// are escaped as \", \\ and \${. A newline, carriage return and tab are
// written as \n, \r and \t: a raw carriage return would be read back as
// a newline (Nix normalises line ends inside strings), and escapes keep
// the generated file one value per line. A lone `$` needs nothing.
//
// s must pass CheckNixString; NixString panics otherwise, rather than
// write a literal that evaluates to something else.
func NixString(s string) string {
	if err := CheckNixString(s); err != nil {
		panic(fmt.Sprintf("escape.NixString(%q): %v; reject it with CheckNixString first", s, err))
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte('\\')
			}
			b.WriteByte('$')
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// CheckNixString reports why s cannot be written as a Nix string, or nil
// if NixString can write it.
//
// Nix strings are C strings, so a NUL byte cannot be carried. Nix has no
// escape for the other control characters (only \n, \r and \t); they
// would have to be written raw into the file, where they hide from a
// reader and can drive a terminal that shows the file, so they are
// refused, as is text that is not UTF-8 (nix's JSON output and nixfmt
// cannot carry it either).
func CheckNixString(s string) error {
	return checkText(s, "\t\n\r")
}

// checkText refuses invalid UTF-8, NUL and every control character (C0,
// DEL and C1) except those in allowed.
func checkText(s, allowed string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("is not valid UTF-8 at byte %d", i)
		case r == 0:
			return fmt.Errorf("contains a NUL byte at byte %d", i)
		case isControl(r) && !strings.ContainsRune(allowed, r):
			return fmt.Errorf("contains the control character %U at byte %d", r, i)
		}
	}
	return nil
}

// isControl reports the C0 controls, DEL and the C1 controls.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// NixAttrName returns s as a Nix attribute name: bare when it is a plain
// identifier that is not a keyword (users.users.bakc), otherwise as a
// quoted string (fileSystems."/mnt/nas-backup"). Both select the same
// attribute; the bare form is what nixfmt and people write.
//
// s must pass CheckNixString.
func NixAttrName(s string) string {
	if isNixIdentifier(s) {
		return s
	}
	return NixString(s)
}

// IsNixIdentifier reports whether s can be written as a bare attribute
// name: an identifier of the Nix grammar that is not a keyword.
func IsNixIdentifier(s string) bool { return isNixIdentifier(s) }

// nixKeywords cannot be used as bare attribute names.
var nixKeywords = map[string]bool{
	"assert": true, "else": true, "if": true, "in": true, "inherit": true,
	"let": true, "or": true, "rec": true, "then": true, "with": true,
}

// isNixIdentifier reports whether s is an ID token of the Nix grammar:
// [a-zA-Z_][a-zA-Z0-9_'-]*, and not a keyword.
func isNixIdentifier(s string) bool {
	if s == "" || nixKeywords[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '\'' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// NixIndentedString returns s as a Nix indented string (the form
// opened and closed by two single quotes) whose lines are indented by
// indent in the file, closed on its own line indented by closeIndent. It
// evaluates to exactly s. It is used for multi-line text such as the
// plan JSON, which as a "…" string would be one unreadable line of \"
// and \n.
//
// Inside an indented string Nix gives a meaning to two single quotes
// (the end), to ${ and to leading indentation (the smallest indentation
// of the lines is removed). NixIndentedString writes
//
//	''      as '''   (two single quotes become three)
//	${      as ''${
//	CR, tab as ''\r and ''\t
//	'       as ''\' when an escape above follows it
//
// and indents every non-empty line by indent, which is what Nix then
// removes; s must have a line that does not start with a space (see
// CheckNixIndentedString).
//
// s must pass CheckNixIndentedString; NixIndentedString panics otherwise.
func NixIndentedString(s, indent, closeIndent string) string {
	if err := CheckNixIndentedString(s); err != nil {
		panic(fmt.Sprintf("escape.NixIndentedString(%q): %v; reject it with CheckNixIndentedString first", s, err))
	}
	if strings.Trim(indent, " ") != "" || indent == "" || strings.Trim(closeIndent, " ") != "" {
		panic(fmt.Sprintf("escape.NixIndentedString: indent %q and closeIndent %q must be spaces, indent at least one", indent, closeIndent))
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8 + 8)
	b.WriteString("''\n")
	lineStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if lineStart && c != '\n' {
			b.WriteString(indent)
		}
		lineStart = c == '\n'
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteString("'''")
			i++
		case c == '\'' && indentedEscapeAt(s, i+1):
			// A quote followed by an escape that starts with two quotes
			// would read as three quotes (an escaped pair) and junk.
			b.WriteString(`''\'`)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString("''${")
			i++
		case c == '\r':
			b.WriteString(`''\r`)
		case c == '\t':
			b.WriteString(`''\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(closeIndent)
	b.WriteString("''")
	return b.String()
}

// indentedEscapeAt reports whether NixIndentedString writes the byte at
// s[i] as an escape that starts with a single quote.
func indentedEscapeAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	switch s[i] {
	case '\r', '\t':
		return true
	case '$':
		return i+1 < len(s) && s[i+1] == '{'
	}
	return false
}

// CheckNixIndentedString reports why s cannot be written with
// NixIndentedString, or nil. Besides what CheckNixString refuses, s must
// end with a newline (the closing quotes sit on their own line), must have a
// line that does not start with a space, so that the indentation Nix
// removes is exactly the one added, and must not have lines made only
// of spaces (Nix does not count them when it measures indentation).
// Text that fails here can still be written with NixString.
func CheckNixIndentedString(s string) error {
	if err := CheckNixString(s); err != nil {
		return err
	}
	if !strings.HasSuffix(s, "\n") {
		return fmt.Errorf("does not end with a newline")
	}
	flush := false
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line != "" && strings.Trim(line, " ") == "" {
			return fmt.Errorf("has a line made only of spaces")
		}
		if line != "" && line[0] != ' ' {
			flush = true
		}
	}
	if !flush {
		return fmt.Errorf("has no line that starts at the left margin")
	}
	return nil
}

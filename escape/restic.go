package escape

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ResticExcludePath returns a line for restic's --exclude-file that
// excludes exactly the absolute path p (and so everything below it), and
// nothing else: restic reads the line back as a pattern that matches p's
// name and no other.
//
// restic (0.14 and 0.18 alike) reads an exclude file line by line: it
// trims surrounding white space, skips lines starting with "#", expands
// $VAR and ${VAR} (with "$$" for a literal "$"), and then matches each
// component of the pattern with Go's filepath.Match, in which * ? [ and \
// are special and "**" is any number of folders. So:
//
//   - * ? [ and \ are escaped with a backslash;
//   - $ is written "$$";
//   - a white space character is written as a class of itself ("[ ]"),
//     which trimming leaves alone.
//
// p must be absolute and clean (the leading "/" also keeps the line from
// being a comment or a negation with "!"), and hold no newline or NUL,
// which no line can carry: check it with CheckResticExcludePath first;
// ResticExcludePath panics on such a path.
func ResticExcludePath(p string) string {
	if err := CheckResticExcludePath(p); err != nil {
		panic(fmt.Sprintf("escape.ResticExcludePath: %q %s; check it with CheckResticExcludePath first", p, err))
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		c := p[i : i+size] // as it is, also when not UTF-8
		i += size
		switch {
		case strings.ContainsAny(c, `*?[\`):
			b.WriteString(`\` + c)
		case c == "$":
			b.WriteString("$$")
		case r != utf8.RuneError && unicode.IsSpace(r):
			b.WriteString("[" + c + "]")
		default:
			b.WriteString(c)
		}
	}
	return b.String()
}

// CheckResticExcludePath reports why p cannot be written as a line of
// restic's --exclude-file by ResticExcludePath, or nil.
func CheckResticExcludePath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("is not an absolute path")
	case path.Clean(p) != p:
		return fmt.Errorf("is not a clean path")
	case strings.ContainsAny(p, "\n\r\x00"):
		return fmt.Errorf("contains a line break or a NUL byte, which no line of an exclude file can carry")
	}
	return nil
}

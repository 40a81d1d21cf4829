package escape

import (
	"encoding/csv"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ResticOption returns one extended option ("key=value") as the value of
// restic's -o flag. The flag is a pflag string slice in restic 0.14 and
// 0.18.1 alike, which reads its value as one line of CSV: a comma would
// split the option in two, and a quote is a syntax error unless the whole
// value is one quoted CSV field. So a value with either is written as
// one CSV field; any other value is unchanged. (CSV reads a CR LF inside
// a quoted field as LF: such a value cannot be carried.)
func ResticOption(kv string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{kv}) // a strings.Builder does not fail
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// ResticCommand returns argv as the value of restic's sftp.command option: restic splits it
// into words with its own splitter (SplitShellStrings in
// internal/backend/shell_split.go, the same in 0.14 and 0.18.1), which is
// not a shell's: outside quotes every space and every backslash ends a
// word; '…' or "…" make one word with everything up to the same quote,
// except that a quote right after a backslash does not close it; a quote
// in the middle of a word starts a new word; there is no escape. So a
// word without spaces, quotes or backslashes is written as it is, any
// other in the quotes it does not contain. A word that is empty, ends in
// a backslash or holds both quotes cannot be written, nor invalid UTF-8;
// ResticCommand refuses them (the compiler allows none of them in what
// bakc puts there).
func ResticCommand(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("sftp.command: no program")
	}
	words := make([]string, len(argv))
	for i, a := range argv {
		switch {
		case a == "":
			return "", fmt.Errorf("sftp.command: argument %d is empty, which restic cannot be given", i)
		case !utf8.ValidString(a):
			return "", fmt.Errorf("sftp.command: argument %q is not UTF-8", a)
		case strings.ContainsFunc(a, unicode.IsControl):
			// Nothing bakc gives ssh has one, and the CSV reading of
			// -o (ResticOption) would turn a CR LF into LF.
			return "", fmt.Errorf("sftp.command: argument %q holds a control character", a)
		case !strings.ContainsFunc(a, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\' }):
			words[i] = a
		case strings.HasSuffix(a, `\`):
			return "", fmt.Errorf("sftp.command: argument %q ends in a backslash, which restic cannot be given", a)
		case !strings.Contains(a, `"`):
			words[i] = `"` + a + `"`
		case !strings.Contains(a, `'`):
			words[i] = `'` + a + `'`
		default:
			return "", fmt.Errorf("sftp.command: argument %q holds both kinds of quotes, which restic cannot be given", a)
		}
	}
	return strings.Join(words, " "), nil
}

// restic reads an --exclude-file line by line, the same way in 0.14.0
// (cmd/restic/cmd_backup.go, readExcludePatternsFromFiles, lines
// 390-430) and in 0.18.1 (internal/filter/exclude.go,
// readPatternsFromFiles, lines 57-97):
//
//  1. textfile.Read drops a UTF-8 byte order mark at the start of the
//     file, and decodes the whole file as UTF-16 when it starts with
//     FE FF or FF FE (internal/textfile/read.go, lines 20-33);
//  2. a bufio.Scanner splits it into lines at "\n", drops one "\r"
//     before it, and fails on a line of 64 KiB or more;
//  3. strings.TrimSpace strips Unicode white space at both ends;
//  4. an empty line is skipped, and so is a line starting with "#";
//  5. os.Expand replaces $NAME, ${NAME} and the shell's special $*, $#,
//     $@, $!, $?, $-, $0…$9 with the environment's value ("" when
//     unset), "$$" with "$", and eats a "${" without its "}"; a "$"
//     followed by anything else, or at the end, stays.
//
// What remains is the pattern, exactly as restic's --exclude would
// take it: filepath.Match syntax per path component (\ escapes the next
// character, [ ] a class, * and ? wildcards), plus ** and a leading !
// (internal/filter/filter.go, preparePattern, identical in both).
// bakc's exclude patterns mean that: what the user writes is matched
// literally by restic, never expanded or dropped.

// resticMaxLine is the longest line restic's bufio.Scanner reads: its
// buffer stops growing at bufio.MaxScanTokenSize (64 KiB), which must
// hold the line and its "\n"; a longer line fails the whole backup with
// "token too long".
const resticMaxLine = 64*1024 - 1

// CheckResticExcludeLine reports why pattern cannot be written as one
// line of restic's --exclude-file so that restic reads back a pattern
// that matches exactly what pattern matches, or nil.
//
// An empty pattern has no line (restic skips it); a line break would
// end the line and start another pattern; no file name holds a NUL; the
// file must be UTF-8 (restic decodes a file that starts like UTF-16 as
// UTF-16); restic refuses a pattern that filepath.Match refuses (an
// unclosed [ or a \ at the end of a component), and a line of 64 KiB or
// more.
func CheckResticExcludeLine(pattern string) error {
	switch {
	case pattern == "":
		return fmt.Errorf("is empty, and restic skips an empty line")
	case !utf8.ValidString(pattern):
		return fmt.Errorf("is not valid UTF-8")
	}
	if i := strings.IndexAny(pattern, "\n\r\x00"); i >= 0 {
		what := map[byte]string{'\n': "a line break", '\r': "a carriage return", 0: "a NUL byte"}[pattern[i]]
		return fmt.Errorf("holds %s at byte %d, which no line of an exclude file (and no file name) can carry", what, i)
	}
	if part, ok := invalidResticPart(pattern); ok {
		return fmt.Errorf("is not a valid restic pattern: the component %q has a character class [ ] that is not closed or is empty, or a \\ at its end", part)
	}
	if n := len(resticExcludeLine(pattern)); n > resticMaxLine {
		return fmt.Errorf("is %d bytes long as a line of the exclude file, and restic reads lines of at most %d bytes", n, resticMaxLine)
	}
	return nil
}

// invalidResticPart returns the first component of pattern that is
// not a well-formed filepath.Match pattern, after a leading "!" is cut
// and the pattern is cleaned, as restic splits it. restic's own check
// (ValidatePatterns: filepath.Match(part, part)) stops at the first
// character that does not match itself, so it passes `\0*[`; such a
// component fails later, when restic matches a path with it. This check
// reads every component whole.
func invalidResticPart(pattern string) (string, bool) {
	p := strings.TrimPrefix(pattern, "!")
	for _, part := range strings.Split(filepath.Clean(p), "/") {
		if !wellFormedGlob(part) {
			return part, true
		}
	}
	return "", false
}

// wellFormedGlob reports whether filepath.Match can read all of the
// component p: every \ escapes a character, every [ opens a class of at
// least one character or range (lo-hi), each an unescaped character
// other than - and ], or an escaped one, closed by ]. This is Go's own
// grammar (path/filepath matchChunk and getEsc).
func wellFormedGlob(p string) bool {
	// one reads a class character: an escaped one, or any but - and ].
	one := func(s string) (string, bool) {
		if s == "" || s[0] == '-' || s[0] == ']' {
			return s, false
		}
		if s[0] == '\\' {
			s = s[1:]
			if s == "" {
				return s, false
			}
		}
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			return s, false
		}
		return s[n:], true
	}
	for s := p; s != ""; {
		switch s[0] {
		case '\\':
			if len(s) < 2 {
				return false
			}
			_, n := utf8.DecodeRuneInString(s[1:])
			s = s[1+n:]
		case '[':
			s = strings.TrimPrefix(s[1:], "^")
			for n := 0; ; n++ {
				if n > 0 && s != "" && s[0] == ']' {
					s = s[1:]
					break
				}
				var ok bool
				if s, ok = one(s); !ok {
					return false
				}
				if s != "" && s[0] == '-' {
					if s, ok = one(s[1:]); !ok {
						return false
					}
				}
			}
		default:
			_, n := utf8.DecodeRuneInString(s)
			s = s[n:]
		}
	}
	return true
}

// ResticExcludeLine returns pattern as one line (without its "\n") of a
// file for restic's --exclude-file, such that restic reads back a
// pattern that matches exactly the paths pattern matches:
//
//   - every "$" is written "$$", which restic's expansion turns back
//     into "$" (it maps the name "$" to "$" itself, in both versions);
//   - a first character that restic would drop or read as a comment (white
//     space, "#", a byte order mark) is written as a class of that one
//     character, "[#]", which filepath.Match reads as that character;
//   - so is a last character that is white space, written bare or
//     escaped ("\ "), since restic strips it.
//
// Nothing else changes: the pattern's own syntax (*, ?, [ ], \, **, a
// leading !) is restic's, and passes through as written.
//
// pattern must pass CheckResticExcludeLine; ResticExcludeLine panics
// otherwise.
func ResticExcludeLine(pattern string) string {
	if err := CheckResticExcludeLine(pattern); err != nil {
		panic(fmt.Sprintf("escape.ResticExcludeLine(%q): %v; reject it with CheckResticExcludeLine first", pattern, err))
	}
	return resticExcludeLine(pattern)
}

func resticExcludeLine(pattern string) string {
	var b strings.Builder
	b.Grow(len(pattern) + 8)
	rest := pattern
	// The first character: restic trims white space, skips a line
	// starting with "#", and drops a byte order mark at the start of the
	// file (only the first line's, but it costs nothing to write every
	// line the same way).
	if r, n := utf8.DecodeRuneInString(rest); unicode.IsSpace(r) || r == '#' || r == '\uFEFF' {
		b.WriteString("[" + string(r) + "]")
		rest = rest[n:]
	}
	// The last character: restic trims white space there too. It may be
	// the escaped "\ ", which loses its \ with it; find where the last
	// syntactic token starts.
	tail := ""
	if start := lastToken(rest); start < len(rest) {
		tok := rest[start:]
		lit, _ := utf8.DecodeLastRuneInString(tok)
		if unicode.IsSpace(lit) && (len(tok) == utf8.RuneLen(lit) || tok[0] == '\\') {
			tail = "[" + string(lit) + "]"
			rest = rest[:start]
		}
	}
	b.WriteString(rest)
	b.WriteString(tail)
	return strings.ReplaceAll(b.String(), "$", "$$")
}

// lastToken returns the byte offset of the last token of a filepath.Match
// pattern: an escape "\x", a class "[…]", or one character; len(p) when
// p is empty. p is a valid pattern (CheckResticExcludeLine); on an
// invalid one the offset is that of some suffix, never out of range.
func lastToken(p string) int {
	last := len(p)
	for i := 0; i < len(p); {
		last = i
		switch p[i] {
		case '\\':
			i++
			if i < len(p) {
				_, n := utf8.DecodeRuneInString(p[i:])
				i += n
			}
		case '[':
			i++
			for i < len(p) && p[i] != ']' {
				if p[i] == '\\' {
					i++
				}
				if i < len(p) {
					_, n := utf8.DecodeRuneInString(p[i:])
					i += n
				}
			}
			if i < len(p) {
				i++ // the closing ]
			}
		default:
			_, n := utf8.DecodeRuneInString(p[i:])
			i += n
		}
	}
	return last
}

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

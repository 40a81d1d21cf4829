package escape

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// systemd reads a unit file line by line: it strips whitespace around
// the key and the value, joins a line that ends in a backslash with the
// next one, and then hands the value to the setting's own parser. The
// parsers differ in what they do with the text, so there is one function
// per kind of value:
//
//	SystemdString  text with % specifiers (Description=, OnCalendar=, Where=)
//	SystemdPath    one word of a path list (RequiresMountsFor=, ReadWritePaths=,
//	               and the path field of a tmpfiles.d line): unquoted, then
//	               % specifiers
//	SystemdExec    a command line (ExecStart=): words unquoted and
//	               C-unescaped, then % specifiers, then $VAR substitution
//	               when the process starts
//
// Values that systemd does not expand at all (CPUQuota=50%, MemoryMax=,
// Nice=, time spans) only need CheckSystemdLine: they are written as
// they are.

// CheckSystemdLine reports why s cannot be the value of a unit file
// setting written verbatim, or nil.
//
// A unit file setting is one line: a newline, or any other control
// character, cannot be carried (systemd has no escape for it outside
// the command line parser). systemd strips whitespace at both ends of a
// value, so a value that starts or ends with a space would be read back
// shorter, and a value that ends with a backslash would join the next
// line. Text must be UTF-8.
func CheckSystemdLine(s string) error {
	if err := checkText(s, ""); err != nil {
		return err
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("starts or ends with whitespace, which systemd strips")
	}
	if strings.HasSuffix(s, `\`) {
		return fmt.Errorf(`ends with a backslash, which systemd reads as "continued on the next line"`)
	}
	return nil
}

// SystemdString returns s as the value of a setting that expands %
// specifiers and otherwise takes its text as it is (Description=,
// OnCalendar=, What=, Where=, Options=): every % becomes %%. Quotes,
// backslashes, $ and spaces inside need nothing there.
//
// s must pass CheckSystemdLine; SystemdString panics otherwise.
func SystemdString(s string) string {
	if err := CheckSystemdLine(s); err != nil {
		panic(fmt.Sprintf("escape.SystemdString(%q): %v; reject it with CheckSystemdLine first", s, err))
	}
	return strings.ReplaceAll(s, "%", "%%")
}

// pathMax and nameMax are Linux's PATH_MAX and NAME_MAX, which systemd
// enforces on paths in unit files.
const (
	pathMax = 4096
	nameMax = 255
)

// CheckSystemdPath reports why p cannot be written with SystemdPath, or
// nil.
//
// systemd accepts only absolute paths in these settings, and silently
// simplifies the rest ("/a//b/" becomes "/a/b"), so p must be absolute
// and already clean (path.Clean(p) == p, no "." or ".." component) to
// be read back as itself. The words are unquoted but not C-unescaped, so
// no control character can be carried; text must be UTF-8. No component
// may be longer than 255 bytes, nor the path longer than 4095.
func CheckSystemdPath(p string) error {
	if err := checkText(p, ""); err != nil {
		return err
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("is not an absolute path")
	}
	if path.Clean(p) != p {
		return fmt.Errorf("is not a clean path (it would be read as %s)", path.Clean(p))
	}
	if len(p) >= pathMax {
		return fmt.Errorf("is longer than %d bytes", pathMax-1)
	}
	for _, c := range strings.Split(p, "/") {
		if len(c) > nameMax {
			return fmt.Errorf("has a component longer than %d bytes", nameMax)
		}
	}
	return nil
}

// SystemdPath returns p as one word of a setting that takes a
// space-separated list of paths (RequiresMountsFor=, ReadWritePaths=)
// or as the path field of a tmpfiles.d line. systemd splits such values
// into words, removing quotes, then expands % specifiers in each word;
// so every % becomes %%, and a path with a space, a quote or a
// backslash is put in double quotes with \" and \\ inside.
//
// p must pass CheckSystemdPath; SystemdPath panics otherwise.
func SystemdPath(p string) string {
	if err := CheckSystemdPath(p); err != nil {
		panic(fmt.Sprintf("escape.SystemdPath(%q): %v; reject it with CheckSystemdPath first", p, err))
	}
	p = strings.ReplaceAll(p, "%", "%%")
	if !strings.ContainsAny(p, " \"'\\") {
		return p
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	b.WriteByte('"')
	return b.String()
}

// SystemdOptionalPath returns p as one word of ReadWritePaths= (or
// ReadOnlyPaths=, InaccessiblePaths=) that systemd skips when the path
// does not exist, instead of refusing to start the unit: a "-" in front
// of the word SystemdPath writes. systemd removes the quotes first and
// then looks for the "-" (config_parse_namespace_path_strv in
// src/core/load-fragment.c, 252), so -"/a b" is the path "/a b".
//
// p must pass CheckSystemdPath; SystemdOptionalPath panics otherwise.
func SystemdOptionalPath(p string) string { return "-" + SystemdPath(p) }

// CheckSystemdExecProgram reports why p cannot be the program of an
// ExecStart= command line, or nil. systemd refuses an executable path
// that is not absolute and clean or that contains a quote, a backslash
// or a control character ("Executable name contains special
// characters"); a $ would be left alone in the path that is run but
// substituted in the argv[0] the program sees, so it is refused too.
func CheckSystemdExecProgram(p string) error {
	if err := CheckSystemdPath(p); err != nil {
		return err
	}
	if i := strings.IndexAny(p, "\"'\\$"); i >= 0 {
		return fmt.Errorf("contains %q, which systemd does not allow in the path of an executable", p[i])
	}
	return nil
}

// CheckSystemdExecArg reports why s cannot be an argument of an
// ExecStart= command line, or nil. The command line parser C-unescapes
// its words, so everything can be carried except a NUL byte, including
// newlines; text must be UTF-8 without C1 control characters (as
// everywhere in bakc's output).
func CheckSystemdExecArg(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("is not valid UTF-8 at byte %d", i)
		case r == 0:
			return fmt.Errorf("contains a NUL byte at byte %d, which no program argument can carry", i)
		case r >= 0x80 && r <= 0x9f:
			return fmt.Errorf("contains the control character %U at byte %d", r, i)
		}
	}
	return nil
}

// SystemdExec returns argv as the value of ExecStart= (or another Exec
// setting): SystemdExecProgram of argv[0], then SystemdExecArgs of the
// rest. argv[0] must pass CheckSystemdExecProgram and every argument
// CheckSystemdExecArg; SystemdExec panics otherwise.
func SystemdExec(argv []string) string {
	if len(argv) == 0 {
		panic("escape.SystemdExec: empty command line")
	}
	if len(argv) == 1 {
		return SystemdExecProgram(argv[0])
	}
	return SystemdExecProgram(argv[0]) + " " + SystemdExecArgs(argv[1:])
}

// SystemdExecProgram returns p as the first word of an Exec command
// line: % becomes %%, and a path with a space is put in double quotes.
// p must pass CheckSystemdExecProgram; SystemdExecProgram panics
// otherwise.
func SystemdExecProgram(p string) string {
	if err := CheckSystemdExecProgram(p); err != nil {
		panic(fmt.Sprintf("escape.SystemdExecProgram(%q): %v; reject it with CheckSystemdExecProgram first", p, err))
	}
	p = strings.ReplaceAll(p, "%", "%%")
	if strings.Contains(p, " ") {
		return `"` + p + `"`
	}
	return p
}

// SystemdExecArgs returns args as the words after the program of an
// Exec command line, separated by spaces, such that systemd starts the
// program with exactly these arguments.
//
// systemd splits the line into words, removing quotes and C escapes,
// then expands % specifiers in each word, and when the process starts
// it substitutes $VAR and ${VAR} ($$ stands for $). So every % becomes
// %% and every $ becomes $$; a word made only of letters, digits and
// -_.,/:=@+ is written bare, every other word (an empty one, one with a
// space, a quote, a backslash, a semicolon, a control character…) in
// double quotes, with \" and \\ inside and control characters as C
// escapes (\n, \t, \x1b…). A lone ";" would separate two commands;
// quoted it is an argument.
//
// Every argument must pass CheckSystemdExecArg; SystemdExecArgs panics
// otherwise.
func SystemdExecArgs(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		if err := CheckSystemdExecArg(a); err != nil {
			panic(fmt.Sprintf("escape.SystemdExecArgs: argument %q: %v; reject it with CheckSystemdExecArg first", a, err))
		}
		words[i] = systemdExecWord(a)
	}
	return strings.Join(words, " ")
}

// systemdExecWord quotes one argument of a command line.
func systemdExecWord(a string) string {
	a = strings.ReplaceAll(a, "%", "%%")
	a = strings.ReplaceAll(a, "$", "$$")
	if a != "" && isBareExecWord(a) {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range a {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isBareExecWord reports whether a needs no quotes in a command line.
func isBareExecWord(a string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.,/:=@+%$", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// unitTypes are the unit suffixes systemd knows.
var unitTypes = []string{
	".service", ".socket", ".target", ".device", ".mount", ".automount",
	".swap", ".timer", ".path", ".slice", ".scope",
}

// unitSpecifiers are the % specifiers allowed in a unit name that bakc
// writes verbatim (OnFailure=notify@%n.service is the usual way to tell
// a notification unit which unit failed).
const unitSpecifiers = "nNpPiIjJfHlmb"

// CheckSystemdUnitName reports why s cannot be written as a unit name in
// a dependency setting (OnFailure=, Wants=, After=), or nil.
//
// A unit name is written verbatim: it may hold only the characters
// systemd allows in unit names (letters, digits and :-_.\@), the %
// specifiers %n %N %p %P %i %I %j %J %f %H %l %m %b (and %% for a
// literal %, which no unit name can hold), and must end in a unit type
// such as .service. Nothing else can be escaped into a unit name.
func CheckSystemdUnitName(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > 255 {
		return fmt.Errorf("is longer than 255 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(":-_.\\@", c) >= 0:
		case c == '%':
			if i+1 >= len(s) || strings.IndexByte(unitSpecifiers, s[i+1]) < 0 {
				return fmt.Errorf("has %% not followed by one of the specifiers %%n %%N %%p %%P %%i %%I %%j %%J %%f %%H %%l %%m %%b")
			}
			i++
		default:
			return fmt.Errorf("contains %q, which cannot be part of a unit name", c)
		}
	}
	for _, t := range unitTypes {
		if strings.HasSuffix(s, t) && len(s) > len(t) {
			return nil
		}
	}
	return fmt.Errorf("does not end in a unit type such as .service or .target")
}

// CheckUserName reports why s cannot be the name of the backup user or
// group, or nil. The name goes to User=, Group=, sysusers.d, tmpfiles.d
// and NixOS's users.users; the rule is systemd's strict one, which every
// one of them accepts: a letter or _ first, then letters, digits, _ and
// -, at most 31 characters. No quoting is ever needed for it.
func CheckUserName(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > 31 {
		return fmt.Errorf("is longer than 31 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '-'):
		default:
			return fmt.Errorf("contains %q at position %d; a user name is a letter or _ followed by letters, digits, _ and -", c, i+1)
		}
	}
	return nil
}

// SystemdUnitNameFromPath returns the name of the unit for path p with
// the given suffix (".mount", ".automount"), as `systemd-escape --path
// --suffix=…` computes it: the mount unit of /mnt/nas-backup is
// mnt-nas\x2dbackup.mount. systemd requires exactly this name for a
// mount unit whose Where= is p.
//
// p must pass CheckSystemdPath; SystemdUnitNameFromPath panics otherwise.
func SystemdUnitNameFromPath(p, suffix string) string {
	if err := CheckSystemdPath(p); err != nil {
		panic(fmt.Sprintf("escape.SystemdUnitNameFromPath(%q): %v; reject it with CheckSystemdPath first", p, err))
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return "-" + suffix
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0,
			!('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ':' || c == '_' || c == '.'):
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String() + suffix
}

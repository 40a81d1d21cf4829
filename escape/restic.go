package escape

import (
	"encoding/csv"
	"fmt"
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

package escape

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file is a model of how systemd 252 reads the values bakc writes
// (src/shared/conf-parser.c, src/basic/extract-word.c, specifier.c and
// env-util.c). The fuzz tests use it; TestSystemdRealCorpus checks the
// escaping functions against systemd itself.

// readUnitLine is what the unit file parser does to "Key=value": the
// value must not span lines (a raw newline or a final backslash), and
// whitespace around it is stripped.
func readUnitLine(value string) (string, error) {
	if strings.ContainsAny(value, "\n\r") {
		return "", fmt.Errorf("value spans lines")
	}
	if strings.HasSuffix(value, `\`) {
		return "", fmt.Errorf("value continues on the next line")
	}
	return strings.Trim(value, " \t"), nil
}

// expandSpecifiers resolves %% to %; any other specifier would be
// replaced by something from the host, which bakc never wants.
func expandSpecifiers(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		return "", fmt.Errorf("unescaped specifier at byte %d", i)
	}
	return b.String(), nil
}

// extractWords is extract_first_word() in a loop, with EXTRACT_UNQUOTE
// and, when cunescape is set, EXTRACT_CUNESCAPE.
func extractWords(s string, cunescape bool) ([]string, error) {
	var words []string
	i := skipSpace(s, 0)
	for i < len(s) {
		w, next, err := extractWord(s, i, cunescape)
		if err != nil {
			return nil, err
		}
		words = append(words, w)
		i = skipSpace(s, next)
	}
	return words, nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(" \t\n\r", s[i]) >= 0 {
		i++
	}
	return i
}

// extractWord reads the word that starts at s[i] and returns it and the
// index after it.
func extractWord(s string, i int, cunescape bool) (string, int, error) {
	var b strings.Builder
	var quote byte
	for ; i < len(s); i++ {
		c := s[i]
		if quote == 0 && strings.IndexByte(" \t\n\r", c) >= 0 {
			break
		}
		switch {
		case c == '\\':
			i++
			if i >= len(s) {
				return "", 0, fmt.Errorf("backslash at the end")
			}
			if !cunescape {
				b.WriteByte(s[i])
				continue
			}
			n, err := cunescapeOne(s[i:], &b)
			if err != nil {
				return "", 0, err
			}
			i += n - 1
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		default:
			b.WriteByte(c)
		}
	}
	if quote != 0 {
		return "", 0, fmt.Errorf("unterminated quote")
	}
	return b.String(), i, nil
}

// cunescapeOne is cunescape_one(): it decodes the escape that starts at
// s (after the backslash), writes it to b and returns its length.
func cunescapeOne(s string, b *strings.Builder) (int, error) {
	switch c := s[0]; c {
	case 'a':
		b.WriteByte('\a')
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'v':
		b.WriteByte('\v')
	case '\\', '"', '\'':
		b.WriteByte(c)
	case 's':
		b.WriteByte(' ')
	case 'x':
		if len(s) < 3 {
			return 0, fmt.Errorf("short \\x escape")
		}
		var v byte
		if _, err := fmt.Sscanf(s[1:3], "%02x", &v); err != nil {
			return 0, fmt.Errorf("bad \\x escape")
		}
		if v == 0 {
			return 0, fmt.Errorf("\\x00 is refused")
		}
		b.WriteByte(v)
		return 3, nil
	default:
		return 0, fmt.Errorf("unknown escape \\%c", c)
	}
	return 1, nil
}

// substituteEnv is what systemd does to each argument when the process
// starts: $$ is a literal $; $VAR and ${VAR} would be replaced by the
// environment, which bakc never wants.
func substituteEnv(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '_' || isASCIILetter(s[i+1])) {
			return "", fmt.Errorf("environment variable reference at byte %d", i)
		}
		b.WriteByte('$')
	}
	return b.String(), nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// readExec is how systemd turns an ExecStart= value into the argv the
// program gets (config_parse_exec, then replace_env_argv at start).
func readExec(value string) ([]string, error) {
	v, err := readUnitLine(value)
	if err != nil {
		return nil, err
	}
	// config_parse_exec looks at the raw text before each word: an
	// unquoted ";" (or "\\;") standing alone separates two commands.
	var words []string
	for i := skipSpace(v, 0); i < len(v); {
		if rest := v[i:]; rest == ";" || strings.HasPrefix(rest, "; ") || rest == `\;` || strings.HasPrefix(rest, `\; `) {
			return nil, fmt.Errorf("bare ; separates commands")
		}
		w, next, err := extractWord(v, i, true)
		if err != nil {
			return nil, err
		}
		words = append(words, w)
		i = skipSpace(v, next)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty command line")
	}
	for i, w := range words {
		if w, err = expandSpecifiers(w); err != nil {
			return nil, err
		}
		if i > 0 {
			if w, err = substituteEnv(w); err != nil {
				return nil, err
			}
		}
		words[i] = w
	}
	return words, nil
}

// unescapeUnitPath is unit_name_path_unescape(): the inverse of
// SystemdUnitNameFromPath.
func unescapeUnitPath(name, suffix string) (string, error) {
	n, ok := strings.CutSuffix(name, suffix)
	if !ok {
		return "", fmt.Errorf("no suffix %s", suffix)
	}
	if n == "-" {
		return "/", nil
	}
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c == '-':
			b.WriteByte('/')
		case c == '\\' && i+3 < len(n) && n[i+1] == 'x':
			var v byte
			if _, err := fmt.Sscanf(n[i+2:i+4], "%02x", &v); err != nil {
				return "", err
			}
			b.WriteByte(v)
			i += 3
		default:
			b.WriteByte(c)
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("not UTF-8")
	}
	return b.String(), nil
}

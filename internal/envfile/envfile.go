// Package envfile reads an environment file the way systemd reads
// EnvironmentFile= for a service, so that bakc's runtime gives restic the
// same variables a unit (or `systemd-run -p EnvironmentFile=`, which the
// runbook's restore commands use) would. It is not shell: nothing is
// expanded or run, `$(…)` is text.
//
// The grammar is systemd's parse_env_file_internal (src/basic/env-file.c),
// as systemd 252 to 257 read it: KEY=VALUE assignments separated by
// newlines (LF or CR); leading white space and, outside quotes, trailing
// white space dropped; "#" or ";" where a key would start begins a
// comment; a value may be made of unquoted, 'single-quoted' and
// "double-quoted" pieces, which are joined (white space between pieces
// dropped); outside quotes a backslash takes the next character
// literally and a backslash before a newline joins the lines; inside
// double quotes a backslash takes only ", \, ` and $ literally (and
// joins lines), before any other character it stays; inside single
// quotes nothing is special; an unterminated quote runs to the end of
// the file. A later assignment of a key replaces an earlier one.
// systemd then drops assignments whose name is not a shell variable name
// (exec_context_load_environment, strv_env_clean).
//
// Where systemd silently drops a line, or where its versions read a file
// differently, Parse returns an error naming the line (never its text,
// the file holds secrets), so that a mistake is not a silently missing
// credential: a line without "=", a name that is not a variable name
// ("export KEY=…" is shell, which systemd does not read), invalid UTF-8
// or a NUL byte (systemd refuses the file or stops reading at it), and a
// comment line ending in a backslash (systemd before 254 takes the next
// line as comment too, later versions do not).
package envfile

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"
)

// nameRE is a name systemd keeps (env_name_is_valid: letters, digits and
// "_", not starting with a digit).
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ReadFile reads and parses the environment file at path; errors name
// path and the line.
func ReadFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, string(data))
}

// Parse returns the KEY=VALUE assignments of text, in the order of each
// key's first assignment, with its last value. name is the file's name
// in errors.
func Parse(name, text string) ([]string, error) {
	if strings.IndexByte(text, 0) >= 0 {
		return nil, fmt.Errorf("%s: contains a NUL byte, where systemd stops reading", name)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%s: is not valid UTF-8; systemd refuses such a file", name)
	}
	const (
		preKey = iota
		key
		preValue
		value
		valueEscape
		singleQuote
		doubleQuote
		doubleQuoteEscape
		comment
		commentEscape
	)
	var (
		state         = preKey
		k, v          []byte
		keyWS, valWS  = -1, -1 // where trailing white space started, -1: none
		line, keyLine = 1, 1
		order         []string
		values        = map[string]string{}
	)
	isNewline := func(c byte) bool { return c == '\n' || c == '\r' }
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	push := func(stripValue bool) error {
		if keyWS >= 0 {
			k = k[:keyWS]
		}
		if stripValue && valWS >= 0 {
			v = v[:valWS]
		}
		key := string(k)
		if !nameRE.MatchString(key) {
			return fmt.Errorf("%s:%d: the name before \"=\" is not a variable name (letters, digits and _; no \"export\"), and systemd ignores the line", name, keyLine)
		}
		if _, seen := values[key]; !seen {
			order = append(order, key)
		}
		values[key] = string(v)
		k, v = nil, nil
		return nil
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch state {
		case preKey:
			switch {
			case c == '#' || c == ';':
				state = comment
			case !isSpace(c):
				state, keyWS, keyLine = key, -1, line
				k = append(k, c)
			}
		case key:
			switch {
			case isNewline(c):
				return nil, fmt.Errorf("%s:%d: no \"=\", and systemd ignores the line", name, keyLine)
			case c == '=':
				state, valWS = preValue, -1
			default:
				if !isSpace(c) {
					keyWS = -1
				} else if keyWS < 0 {
					keyWS = len(k)
				}
				k = append(k, c)
			}
		case preValue:
			switch {
			case isNewline(c):
				if err := push(false); err != nil {
					return nil, err
				}
				state = preKey
			case c == '\'':
				state = singleQuote
			case c == '"':
				state = doubleQuote
			case c == '\\':
				state = valueEscape
			case !isSpace(c):
				state = value
				v = append(v, c)
			}
		case value:
			switch {
			case isNewline(c):
				if err := push(true); err != nil {
					return nil, err
				}
				state = preKey
			case c == '\\':
				state, valWS = valueEscape, -1
			default:
				if !isSpace(c) {
					valWS = -1
				} else if valWS < 0 {
					valWS = len(v)
				}
				v = append(v, c)
			}
		case valueEscape:
			state = value
			if !isNewline(c) {
				v = append(v, c)
			}
		case singleQuote:
			if c == '\'' {
				state = preValue
			} else {
				v = append(v, c)
			}
		case doubleQuote:
			switch c {
			case '"':
				state = preValue
			case '\\':
				state = doubleQuoteEscape
			default:
				v = append(v, c)
			}
		case doubleQuoteEscape:
			state = doubleQuote
			switch {
			case strings.IndexByte("\"\\`$", c) >= 0:
				v = append(v, c)
			case c != '\n':
				v = append(v, '\\', c)
			}
		case comment:
			switch {
			case c == '\\':
				state = commentEscape
			case isNewline(c):
				state = preKey
			}
		case commentEscape:
			if isNewline(c) {
				return nil, fmt.Errorf("%s:%d: a comment ends in a backslash, which systemd before 254 reads as continuing the comment on the next line and later versions do not; remove the backslash", name, line)
			}
			state = comment
		}
		if c == '\n' {
			line++
		}
	}
	switch state {
	case key:
		return nil, fmt.Errorf("%s:%d: no \"=\", and systemd ignores the line", name, keyLine)
	case preValue, value, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape:
		if err := push(state == value); err != nil {
			return nil, err
		}
	}
	env := make([]string, len(order))
	for i, n := range order {
		env[i] = n + "=" + values[n]
	}
	return env, nil
}

package escape

import (
	"fmt"
	"strings"
)

// This file is a model of how Nix 2.8's lexer and parser read the two
// string forms (src/libexpr/lexer.l and stripIndentation in parser.y).
// The fuzz tests use it to check NixString and NixIndentedString on
// millions of inputs without starting nix; TestNixRealCorpus checks the
// model itself against the real nix-instantiate on a large corpus.

// readNixString reads a "…" literal the way Nix does and returns its
// value, or an error for an antiquotation or anything that is not one
// complete literal.
func readNixString(lit string) (string, error) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", fmt.Errorf("does not start with a quote")
	}
	var b strings.Builder
	i := 1
	raw := func(c byte) {
		// Nix turns a raw CR and CR LF into LF inside strings.
		if c == '\r' {
			b.WriteByte('\n')
			if i < len(lit) && lit[i] == '\n' {
				i++
			}
			return
		}
		b.WriteByte(c)
	}
	escaped := func(c byte) {
		switch c {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteByte(c)
		}
	}
	for i < len(lit) {
		c := lit[i]
		i++
		switch c {
		case '"':
			if i != len(lit) {
				return "", fmt.Errorf("literal ends at byte %d of %d", i, len(lit))
			}
			return b.String(), nil
		case '\\':
			if i >= len(lit) {
				return "", fmt.Errorf("backslash at the end")
			}
			escaped(lit[i])
			i++
		case '$':
			if i >= len(lit) {
				return "", fmt.Errorf("unterminated")
			}
			switch n := lit[i]; n {
			case '{':
				return "", fmt.Errorf("antiquotation at byte %d", i-1)
			case '"':
				b.WriteByte('$')
			case '\\':
				b.WriteByte('$')
			default:
				// $ and the next character are one token: "$${" is
				// literal.
				b.WriteByte('$')
				i++
				raw(n)
			}
		default:
			raw(c)
		}
	}
	return "", fmt.Errorf("unterminated")
}

// indToken is one token of an indented string: text, and whether it is
// raw source text (whose leading spaces count as indentation) or the
// value of an escape.
type indToken struct {
	text string
	raw  bool
}

// readNixIndented reads an indented string literal the way Nix does.
func readNixIndented(lit string) (string, error) {
	if !strings.HasPrefix(lit, "''") {
		return "", fmt.Errorf("does not start with ''")
	}
	i := 2
	// The opening quotes swallow spaces and one newline after it.
	j := i
	for j < len(lit) && lit[j] == ' ' {
		j++
	}
	if j < len(lit) && lit[j] == '\n' {
		i = j + 1
	}
	var toks []indToken
	var rawb strings.Builder
	flush := func() {
		if rawb.Len() > 0 {
			toks = append(toks, indToken{rawb.String(), true})
			rawb.Reset()
		}
	}
	closed := false
	for i < len(lit) && !closed {
		c := lit[i]
		switch {
		case strings.HasPrefix(lit[i:], "'''"):
			flush()
			toks = append(toks, indToken{"''", false})
			i += 3
		case strings.HasPrefix(lit[i:], "''$"):
			flush()
			toks = append(toks, indToken{"$", false})
			i += 3
		case strings.HasPrefix(lit[i:], "''\\"):
			if i+3 >= len(lit) {
				return "", fmt.Errorf("unterminated escape")
			}
			flush()
			v := lit[i+3]
			switch v {
			case 'n':
				v = '\n'
			case 'r':
				v = '\r'
			case 't':
				v = '\t'
			}
			toks = append(toks, indToken{string(v), false})
			i += 4
		case strings.HasPrefix(lit[i:], "''"):
			flush()
			i += 2
			closed = true
		case strings.HasPrefix(lit[i:], "${"):
			return "", fmt.Errorf("antiquotation at byte %d", i)
		case c == '$':
			// "$" followed by anything but "{" or "'" joins the raw
			// text; a "$" before "'" is its own (non-raw) token.
			if i+1 < len(lit) && lit[i+1] != '\'' {
				rawb.WriteString(lit[i : i+2])
				i += 2
			} else {
				flush()
				toks = append(toks, indToken{"$", false})
				i++
			}
		case c == '\'':
			// "'" followed by anything but "'" or "$" joins the raw
			// text; otherwise it is its own (non-raw) token.
			if i+1 < len(lit) && lit[i+1] != '\'' && lit[i+1] != '$' {
				rawb.WriteString(lit[i : i+2])
				i += 2
			} else {
				flush()
				toks = append(toks, indToken{"'", false})
				i++
			}
		default:
			rawb.WriteByte(c)
			i++
		}
	}
	if !closed {
		return "", fmt.Errorf("unterminated")
	}
	if i != len(lit) {
		return "", fmt.Errorf("literal ends at byte %d of %d", i, len(lit))
	}
	flush()
	return stripIndentation(toks), nil
}

// stripIndentation is Nix's: the smallest indentation of the lines
// (counting spaces of raw text only; empty lines and the whitespace-only
// last line do not count) is removed from every line, and a last line
// made only of spaces is dropped.
func stripIndentation(toks []indToken) string {
	atStart := true
	minIndent := 1 << 30
	cur := 0
	for _, t := range toks {
		if !t.raw {
			if atStart {
				atStart = false
				minIndent = min(minIndent, cur)
			}
			continue
		}
		for j := 0; j < len(t.text); j++ {
			c := t.text[j]
			if atStart {
				switch c {
				case ' ':
					cur++
				case '\n':
					cur = 0
				default:
					atStart = false
					minIndent = min(minIndent, cur)
				}
			} else if c == '\n' {
				atStart = true
				cur = 0
			}
		}
	}
	var out strings.Builder
	atStart = true
	dropped := 0
	for n, t := range toks {
		var s2 strings.Builder
		for j := 0; j < len(t.text); j++ {
			c := t.text[j]
			if atStart {
				switch c {
				case ' ':
					if dropped >= minIndent {
						s2.WriteByte(c)
					}
					dropped++
				case '\n':
					dropped = 0
					s2.WriteByte(c)
				default:
					atStart = false
					dropped = 0
					s2.WriteByte(c)
				}
			} else {
				s2.WriteByte(c)
				if c == '\n' {
					atStart = true
				}
			}
		}
		v := s2.String()
		if n == len(toks)-1 {
			if p := strings.LastIndexByte(v, '\n'); p >= 0 && strings.Trim(v[p+1:], " ") == "" {
				v = v[:p+1]
			}
		}
		out.WriteString(v)
	}
	return out.String()
}

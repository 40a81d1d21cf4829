package replication

import (
	"fmt"
	"strings"
)

// Words splits the command an ssh client asked for (sshd hands it to a
// forced command as SSH_ORIGINAL_COMMAND) into words, the way sh splits
// the commands syncoid sends, and refuses every line sh would read as
// more than one plain command.
//
// syncoid builds each remote command as a shell line: words separated by
// spaces, dataset and snapshot names in single quotes
// ('rpool/home'@'autosnap_…'), nothing else. So Words knows blanks
// (space, tab), bare characters that mean nothing to sh, and single
// quotes, whose content is taken literally; a word may join quoted and
// bare parts. Any other character outside quotes (;, |, &, $, `, \, ", <,
// >, (, ), *, ?, [, ~, #, newlines …) and any control character anywhere
// is refused with an error, never interpreted: the guard runs what it
// allows itself, with an argument vector, and never through a shell.
func Words(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c < 0x20 && c != '\t' || c == 0x7f:
			return nil, fmt.Errorf("the command holds a control character (byte %#02x at %d)", c, i)
		case quoted:
			if c == '\'' {
				quoted = false
				continue
			}
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			quoted, inWord = true, true
		case isBare(c):
			cur.WriteByte(c)
			inWord = true
		default:
			return nil, fmt.Errorf("the command holds %q at %d, which a shell would read as more than a word", string(c), i)
		}
	}
	if quoted {
		return nil, fmt.Errorf("the command has a quote that is never closed")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// isBare reports whether sh reads c outside quotes as itself, in any
// position of a word: letters, digits and "_./:@,=+-" (no "~", which is
// special at a word's start, and no "%", "^" or "!", which some shells
// treat specially).
func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("_./:@,=+-", c) >= 0
}

package runbook

import (
	"strings"
)

// Markdown escaping. Every value from the plan that reaches the runbook's
// prose goes through one of these (as template functions), never raw:
// a description with "*" or "#" stays text, a path with "`" stays one
// code span, a "|" cannot split a table cell, and a newline cannot end a
// list item or start a heading.

// mdText escapes s for Markdown prose in the middle of a line (after a
// label, never at a line's start): the characters that have a meaning
// inline (emphasis, code, links, images, HTML, entities, tables,
// strike-through, GitHub's math) are backslash-escaped, as CommonMark
// allows for any ASCII punctuation, and line breaks become spaces. Other
// punctuation stays as it is, so that the raw file reads well too.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if r < 0x80 && strings.IndexByte(mdInlineSpecial, byte(r)) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

const mdInlineSpecial = "\\`*_[]<>&|~!$#"

// mdCode returns s as an inline code span whose content reads back as s
// (on one line): the backtick fence is longer than any run of backticks
// inside, and a space pads content that starts or ends with a backtick
// or a space (CommonMark strips one such space from each side, unless
// the content is only spaces).
//
// CommonMark has no empty code span; the empty string is shown as
// "(empty)" in emphasis.
func mdCode(s string) string {
	s = oneLine(s)
	if s == "" {
		return "_(empty)_"
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	allSpaces := strings.Trim(s, " ") == ""
	if !allSpaces && (s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' || s[len(s)-1] == ' ') {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell is mdCode for a table cell: GitHub's tables split on "|" even
// inside code spans unless it is escaped, and give back the "|".
func mdCell(s string) string {
	return strings.ReplaceAll(mdCode(s), "|", `\|`)
}

// oneLine replaces line breaks (and the other control characters, which
// no Markdown reader shows usefully) with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return ' '
		}
		return r
	}, s)
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// codeFence returns the fence for fenced code blocks holding any of the
// texts: at least three backticks, and more than the longest run of
// backticks in any of them, so that no line inside can close the block.
func codeFence(texts ...string) string {
	n := 3
	for _, t := range texts {
		n = max(n, longestRun(t, '`')+1)
	}
	return strings.Repeat("`", n)
}

package runbook

import (
	"strings"
	"testing"
)

// readCodeSpan reads a code span the way CommonMark does: the opening
// backtick string, content up to a backtick string of the same length,
// then one space stripped from each side if both are spaces and the
// content is not only spaces. It reports whether md is exactly one code
// span.
func readCodeSpan(md string) (string, bool) {
	n := len(md) - len(strings.TrimLeft(md, "`"))
	if n == 0 || len(md) < 2*n+1 {
		return "", false
	}
	fence := md[:n]
	if !strings.HasSuffix(md, fence) || strings.HasSuffix(md[:len(md)-n], "`") {
		return "", false
	}
	content := md[n : len(md)-n]
	// No backtick string of exactly n inside may close the span early.
	for i := 0; i < len(content); {
		if content[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(content) && content[j] == '`' {
			j++
		}
		if j-i == n {
			return "", false
		}
		i = j
	}
	if len(content) >= 2 && content[0] == ' ' && content[len(content)-1] == ' ' && strings.Trim(content, " ") != "" {
		content = content[1 : len(content)-1]
	}
	return content, true
}

// unescapeText undoes CommonMark backslash escapes of ASCII punctuation,
// and reports whether a character with an inline meaning was left
// unescaped.
func unescapeText(md string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(md); i++ {
		c := md[i]
		if c == '\\' && i+1 < len(md) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", md[i+1]) >= 0 {
			b.WriteByte(md[i+1])
			i++
			continue
		}
		if strings.IndexByte(mdInlineSpecial, c) >= 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

var markdownCases = []string{
	"/home", "a`b", "``", "`start", "end`", " padded ", "   ", "a|b", "line\nbreak", "tab\there",
	"*emph* _u_ [link](x) <b>&amp; ~~s~~ $x$ #h !img", `back\slash`, "ünïcödé 名前", "\u2028sep",
}

func TestMdCode(t *testing.T) {
	for _, s := range markdownCases {
		md := mdCode(s)
		got, ok := readCodeSpan(md)
		if !ok || got != oneLine(s) {
			t.Errorf("mdCode(%q) = %q, which reads back as %q (one span: %v)", s, md, got, ok)
		}
		if strings.ContainsAny(md, "\n\r") {
			t.Errorf("mdCode(%q) = %q spans lines", s, md)
		}
	}
	if got := mdCode(""); got != "_(empty)_" {
		t.Errorf(`mdCode("") = %q`, got)
	}
}

func TestMdCell(t *testing.T) {
	for _, s := range markdownCases {
		md := mdCell(s)
		if strings.Contains(strings.ReplaceAll(md, `\|`, ""), "|") {
			t.Errorf("mdCell(%q) = %q has an unescaped |", s, md)
		}
		got, ok := readCodeSpan(strings.ReplaceAll(md, `\|`, "|"))
		if !ok || got != oneLine(s) {
			t.Errorf("mdCell(%q) = %q reads back as %q", s, md, got)
		}
	}
}

func TestMdText(t *testing.T) {
	for _, s := range markdownCases {
		md := mdText(s)
		got, ok := unescapeText(md)
		if !ok || got != oneLine(s) {
			t.Errorf("mdText(%q) = %q reads back as %q (all escaped: %v)", s, md, got, ok)
		}
	}
	if got, want := mdText("Home folders, state (and more)."), "Home folders, state (and more)."; got != want {
		t.Errorf("plain text changed: %q, want %q", got, want)
	}
}

func TestCodeFence(t *testing.T) {
	for _, tt := range []struct {
		texts []string
		want  string
	}{
		{nil, "```"},
		{[]string{"no backticks"}, "```"},
		{[]string{"a```b", "``"}, "````"},
		{[]string{"``````"}, "```````"},
	} {
		if got := codeFence(tt.texts...); got != tt.want {
			t.Errorf("codeFence(%q) = %q, want %q", tt.texts, got, tt.want)
		}
	}
}

func FuzzMarkdown(f *testing.F) {
	for _, s := range markdownCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, ok := readCodeSpan(mdCode(s)); s != "" && (!ok || got != oneLine(s)) {
			t.Fatalf("mdCode(%q) = %q reads back as %q", s, mdCode(s), got)
		}
		cell := mdCell(s)
		if strings.Contains(strings.ReplaceAll(cell, `\|`, ""), "|") {
			t.Fatalf("mdCell(%q) = %q has an unescaped |", s, cell)
		}
		if got, ok := unescapeText(mdText(s)); !ok || got != oneLine(s) {
			t.Fatalf("mdText(%q) = %q reads back as %q", s, mdText(s), got)
		}
		for _, out := range []string{mdCode(s), cell, mdText(s)} {
			if strings.ContainsAny(out, "\n\r") {
				t.Fatalf("%q spans lines", out)
			}
		}
	})
}

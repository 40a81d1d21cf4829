package escape

import (
	"encoding/csv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

// readResticWords is a model of how restic (0.14 to 0.18.1) splits
// sftp.command into words, written from its behaviour: outside quotes,
// white space and backslashes separate words (and are dropped); a ' or "
// separates too and starts a quoted run that a later same quote ends,
// unless a backslash comes right before it; inside, everything is
// literal; an unterminated quote is an error. The real restic binaries
// check ResticCommand in runtime/restic (TestSFTPCommandRealRestic).
func readResticWords(s string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	in := false
	var quote, last rune
	flush := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for _, c := range s {
		split := false
		switch {
		case last != '\\' && quote != 0 && c == quote:
			quote, split = 0, true
		case last != '\\' && quote == 0 && (c == '"' || c == '\''):
			quote, split = c, true
		default:
			last = c
			split = quote == 0 && (c == '\\' || unicode.IsSpace(c))
		}
		if split {
			flush()
			continue
		}
		in = true
		cur.WriteRune(c)
	}
	flush()
	return words, quote == 0
}

func TestResticCommand(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"ssh", "-F", "none", "-p", "2222", "nas"}, "ssh -F none -p 2222 nas"},
		{[]string{"/opt/my ssh", "it's", `say "hi"`, `a\b`}, `"/opt/my ssh" "it's" 'say "hi"' "a\b"`},
		{[]string{"ssh", "UserKnownHostsFile=/etc/bakc/known_hosts"}, "ssh UserKnownHostsFile=/etc/bakc/known_hosts"},
	}
	for _, tt := range tests {
		got, err := ResticCommand(tt.argv)
		if err != nil || got != tt.want {
			t.Errorf("ResticCommand(%q) = %q, %v; want %q", tt.argv, got, err, tt.want)
		}
		words, ok := readResticWords(got)
		if diff := cmp.Diff(tt.argv, words); !ok || diff != "" {
			t.Errorf("%q reads back (-want +got):\n%s", got, diff)
		}
	}
	for _, bad := range [][]string{nil, {"ssh", ""}, {"ssh", `x\`}, {"ssh", `"'`}, {"ssh", "\xff"}, {"ssh", "a\nb"}, {"ssh", "a\r\nb"}, {"ssh", "\t"}} {
		if got, err := ResticCommand(bad); err == nil {
			t.Errorf("ResticCommand(%q) = %q, want an error", bad, got)
		}
	}
}

func TestResticOption(t *testing.T) {
	for _, kv := range []string{"sftp.command=ssh -p 22 nas", `sftp.command="/a b" x`, "a,b=c", " lead", "new\nline", "plain=1"} {
		got := ResticOption(kv)
		fields, err := csv.NewReader(strings.NewReader(got)).Read()
		if err != nil || len(fields) != 1 || fields[0] != kv {
			t.Errorf("ResticOption(%q) = %q reads back as %q (%v)", kv, got, fields, err)
		}
	}
	if got := ResticOption("sftp.connections=5"); got != "sftp.connections=5" {
		t.Errorf("a plain option changed: %q", got)
	}
}

func FuzzResticCommand(f *testing.F) {
	f.Add("ssh", "two words", `it's "x"`)
	f.Add("/p", `a\b`, "\u00a0")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		argv := []string{a, b, c}
		s, err := ResticCommand(argv)
		if err != nil {
			return
		}
		words, ok := readResticWords(s)
		if !ok || !cmp.Equal(argv, words) {
			t.Fatalf("ResticCommand(%q) = %q reads back as %q (ok %v)", argv, s, words, ok)
		}
		opt := ResticOption("sftp.command=" + s)
		fields, err := csv.NewReader(strings.NewReader(opt)).Read()
		if err != nil || len(fields) != 1 || fields[0] != "sftp.command="+s {
			t.Fatalf("ResticOption(%q) = %q reads back as %q (%v)", s, opt, fields, err)
		}
	})
}

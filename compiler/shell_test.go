package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestAnalyzeShell: which writes and commands a hook's script shows, and
// which it cannot know (anything expanded at run time).
func TestAnalyzeShell(t *testing.T) {
	for _, tt := range []struct {
		name     string
		script   string
		writes   []string
		commands []string
	}{
		{"redirection", "pg_dumpall > /var/lib/pg/dump.sql", []string{"/var/lib/pg/dump.sql"}, []string{"pg_dumpall"}},
		{"append and stderr", "x >> /var/log/a.log 2>/dev/null", []string{"/var/log/a.log", "/dev/null"}, []string{"x"}},
		{"all output", "x &> /srv/out", []string{"/srv/out"}, []string{"x"}},
		{"relative from /", "echo hi > dump.sql", []string{"/dump.sql"}, []string{"echo"}},
		{"relative after cd is unknown", "cd /srv && echo hi > dump.sql", nil, []string{"cd", "echo"}},
		{"quoted target", `echo > "/var/lib/my db/x"`, []string{"/var/lib/my db/x"}, []string{"echo"}},
		{"variable target is unknown", `echo > "$DIR/x"; echo > /a/$x`, nil, []string{"echo"}},
		{"tee files", "date | tee -a /var/log/x /var/log/y", []string{"/var/log/x", "/var/log/y"}, []string{"date", "tee"}},
		{"cp last operand", "cp -a /etc/hosts /etc/motd /backup/", []string{"/backup"}, []string{"cp"}},
		{"cp -t", "cp -t /backup /etc/hosts", []string{"/backup"}, []string{"cp"}},
		{"mv with unknown operand", "mv /a $x", nil, []string{"mv"}},
		{"dd of", "dd if=/dev/zero of=/srv/zero bs=1M count=1", []string{"/srv/zero"}, []string{"dd"}},
		{"mkdir touch rm", "mkdir -p /srv/a && touch /srv/a/b; rm -f /srv/c", []string{"/srv/a", "/srv/a/b", "/srv/c"}, []string{"mkdir", "touch", "rm"}},
		{"reading is not writing", "cat < /etc/hosts; grep x /etc/passwd", nil, []string{"cat", "grep"}},
		{"functions are not programs", "f() { pg_dump x; }; f", nil, []string{"pg_dump"}},
		{"command substitution", "echo $(hostname) > /srv/h", []string{"/srv/h"}, []string{"echo", "hostname"}},
		{"pipeline and subshell", "(a | b) && { c; }", nil, []string{"a", "b", "c"}},
		{"multi-line", "set -e\nsystemctl stop x\npg_dumpall >/srv/d.sql\n", []string{"/srv/d.sql"}, []string{"set", "systemctl", "pg_dumpall"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			facts, err := analyzeShell(tt.script)
			require.NoError(t, err)
			var writes, commands []string
			for _, w := range facts.Writes {
				writes = append(writes, w.Path)
			}
			for _, c := range facts.Commands {
				commands = append(commands, c.Name)
			}
			if diff := cmp.Diff(tt.writes, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.commands, commands); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAnalyzeShellPositions: a finding says where in the command it is.
func TestAnalyzeShellPositions(t *testing.T) {
	facts, err := analyzeShell("set -e\n  pg_dumpall >> /srv/d.sql")
	require.NoError(t, err)
	require.Len(t, facts.Writes, 1)
	w := facts.Writes[0]
	if w.Line != 2 || w.Col != 14 || w.How != ">> /srv/d.sql" {
		t.Errorf("write = %+v; want line 2, column 14, >> /srv/d.sql", w)
	}
	require.Equal(t, shellWord{Name: "pg_dumpall", Line: 2, Col: 3}, facts.Commands[1])

	_, err = analyzeShell("if true; then\n  echo x")
	require.Error(t, err)
	se, ok := err.(*shellError)
	require.True(t, ok, "%T", err)
	require.Equal(t, uint(1), se.Line)
}

package restic_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// TestSFTPCommandRealRestic gives both restic versions an sftp.command
// made by SFTPCommand whose program records the arguments restic starts
// it with, and compares them with the argv it was made from: hostile
// words (spaces, both quotes, backslashes, $, %, =, non-ASCII) and the
// command bakc builds for a repository.
func TestSFTPCommandRealRestic(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "my ssh 100%")
	out := filepath.Join(dir, "argv")
	require.NoError(t, os.WriteFile(prog, []byte("#!/bin/sh\nprintf '%s\\0' \"$@\" > \""+out+"\"\nexit 1\n"), 0o755))

	ssh := &plan.SSH{User: "restic", Host: "nas-1.holthome.net", Port: "2222",
		IdentityFile: "/run/secrets/restic-ssh-key", KnownHostsFile: "/etc/bakc/known_hosts"}
	cases := [][]string{
		ssh.Command(prog),
		{prog, "plain", "two words", `it's`, `say "hi"`, `back\slash`, `\x41`, `a\"b`, "$HOME", "${x}", "100%", "k=v", "-o", "café", "no\u00a0break", " lead", "trail ", "a,b", `x","y`},
	}
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			for _, argv := range cases {
				value, err := restic.SFTPCommand(argv)
				require.NoError(t, err)
				os.Remove(out)
				rs := &restic.Restic{Binary: r.Path, Repo: "sftp:restic@nas-1.holthome.net:/srv/restic",
					PasswordFile: restictest.PasswordFile(t), Options: []string{restic.SFTPCommandOption + "=" + value}}
				err = rs.CatConfig(context.Background())
				require.Error(t, err, "the recording program makes restic fail")
				data, rerr := os.ReadFile(out)
				require.NoError(t, rerr, "restic %s did not start the program of %q: %v", r.Version, value, err)
				got := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
				if diff := cmp.Diff(argv[1:], got); diff != "" {
					t.Errorf("restic %s started %q with (-want +got):\n%s", r.Version, value, diff)
				}
			}
		})
	}
}

func TestSFTPCommandRefuses(t *testing.T) {
	for _, argv := range [][]string{
		nil,
		{"ssh", ""},
		{"ssh", `ends\`},
		{"ssh", `both " and '`},
		{"ssh", "\xff"},
		{"ssh", "new\nline"},
	} {
		if v, err := restic.SFTPCommand(argv); err == nil {
			t.Errorf("SFTPCommand(%q) = %q, want an error", argv, v)
		}
	}
}

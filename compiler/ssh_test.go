package compiler

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/holthome/bakc/internal/testenv"
)

const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se"

// TestHostsNameLikeSSH compares hostsName with OpenSSH itself:
// `ssh-keygen -F HOST -f FILE` prints the known_hosts lines ssh would
// use for HOST (hashed names, [host]:port, wildcards, negation, case).
func TestHostsNameLikeSSH(t *testing.T) {
	keygen := testenv.LookPath(t, "ssh-keygen")
	lines := []string{
		"nas.example.net",
		"NAS2.Example.Net",
		"[nas.example.net]:2222",
		"*.wild.example.net",
		"*.example.org,!secret.example.org",
		"n?s.example.com",
		"[10.0.0.*]:2222",
		// ssh-keygen -H of "nas-1.example.net".
		"|1|UDBO07WyGgoSw5W6GTLoirZojoI=|4vIrxrFPq9s/xOIMPDnvHl45GTs=",
		"a.example.net,b.example.net",
	}
	hosts := []string{
		"nas.example.net", "NAS.example.net", "nas2.example.net", "[nas.example.net]:2222",
		"[nas.example.net]:22", "x.wild.example.net", "wild.example.net", "a.b.wild.example.net",
		"www.example.org", "secret.example.org", "nas.example.com", "nas.example.net.evil",
		"[10.0.0.7]:2222", "10.0.0.7", "nas-1.example.net", "nas-2.example.net", "b.example.net",
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "known_hosts")
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l + " " + testHostKey + "\n")
	}
	require.NoError(t, os.WriteFile(file, []byte(text.String()), 0o644))
	for _, h := range hosts {
		// ssh-keygen -F takes host or [host]:port; it exits 1 when no
		// line matches.
		out, _ := exec.Command(keygen, "-F", h, "-f", file).Output()
		var want []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				want = append(want, strings.Fields(l)[0])
			}
		}
		var got []string
		for _, l := range lines {
			_, patterns, _, _, _, err := ssh.ParseKnownHosts([]byte(l + " " + testHostKey))
			require.NoError(t, err)
			if hostsName(patterns, h) {
				got = append(got, l)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("lines naming %s (-ssh-keygen +bakc):\n%s", h, diff)
		}
	}
}

func TestParseSFTPURL(t *testing.T) {
	tests := []struct {
		url                    string
		user, host, port, fail string
	}{
		{url: "sftp:restic@nas-1.holthome.net:/srv/restic/x", user: "restic", host: "nas-1.holthome.net"},
		{url: "sftp:nas:/srv", host: "nas"},
		{url: "sftp:me@corp@nas:/srv", user: "me@corp", host: "nas"},
		{url: "sftp:restic@nas:relative/dir", user: "restic", host: "nas"},
		{url: "sftp://restic@nas:2222//srv/x", user: "restic", host: "nas", port: "2222"},
		{url: "sftp://restic@[fd00::1]:2222//srv/x", user: "restic", host: "fd00::1", port: "2222"},
		{url: "sftp://nas/srv", host: "nas"},
		{url: "sftp:restic@nas", fail: "names no folder"},
		{url: "sftp://restic@nas", fail: "names no folder"},
		{url: "sftp:restic@-oProxyCommand=x:/srv", fail: "is not a host name"},
		{url: "sftp:-l@nas:/srv", fail: "is not a login name"},
		{url: "sftp://restic@nas:99999//srv", fail: "is not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			user, host, port, err := parseSFTPURL(tt.url)
			if tt.fail != "" {
				require.Contains(t, err, tt.fail)
				return
			}
			require.Empty(t, err)
			require.Equal(t, []string{tt.user, tt.host, tt.port}, []string{user, host, port})
		})
	}
}

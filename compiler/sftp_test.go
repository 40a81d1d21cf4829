package compiler

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

func TestSFTPAddressProblem(t *testing.T) {
	for _, tt := range []struct {
		name, url string
		bad       bool
	}{
		{"host name, short form", "sftp:restic@nas-1.example.net:/srv/restic", false},
		{"IPv4, short form", "sftp:restic@192.0.2.10:/srv/restic", false},
		{"user with @, short form", "sftp:me@corp@nas-1:/srv", false},
		{"colon in the path", "sftp:restic@nas-1:/srv/a:b", false},
		{"IPv6 in a URL, brackets", "sftp://restic@[fd00::1]//srv/restic", false},
		{"IPv6 in a URL, port", "sftp://restic@[fd00::1]:2222//srv/restic", false},
		{"IPv6 in a URL, zone", "sftp://restic@[fe80::1%25eth0]//srv/restic", false},
		{"IPv6, short form", "sftp:restic@fd00::1:/srv/restic", true},
		{"IPv6, short form, brackets", "sftp:restic@[fd00::1]:/srv/restic", true},
		{"IPv6, short form, no user", "sftp:fd00::1:/srv/restic", true},
		{"IPv6 loopback, short form", "sftp:restic@::1:/srv/restic", true},
		{"IPv6 in a URL without brackets", "sftp://restic@fd00::1//srv/restic", true},
		{"IPv6 zone in a URL, unescaped", "sftp://restic@[fe80::1%eth0]//srv/restic", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := sftpAddressProblem(tt.url); (got != "") != tt.bad {
				t.Errorf("sftpAddressProblem(%q) = %q; want a problem: %v", tt.url, got, tt.bad)
			}
		})
	}
}

// TestSFTPURLWithRestic proves which sftp URLs with an address restic
// (0.14 and 0.18.1) reads as written, against a real sshd serving sftp:
// every URL the compiler accepts initialises a repository through it,
// and for every URL it refuses, restic asks ssh for another host. The
// ssh restic runs is a wrapper that adds the test's key, known_hosts and
// port (restic 0.14 has no sftp.args) and records the host restic gave.
func TestSFTPURLWithRestic(t *testing.T) {
	testenv.Root(t)
	sshBin := testenv.LookPath(t, "ssh")
	dir := t.TempDir()
	pub := testenv.SSHKey(t, dir, "client", "client")
	password := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(password, []byte("secret\n"), 0o600))

	type server struct {
		*testenv.SSHD
		name string
	}
	servers := []server{{testenv.StartSSHDOn(t, "127.0.0.1", pub+"\n", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp"), "IPv4"}}
	if ipv6(t) {
		servers = append(servers, server{testenv.StartSSHDOn(t, "::1", pub+"\n", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp"), "IPv6"})
	}
	for _, r := range testenv.Restics(t) {
		for _, srv := range servers {
			t.Run(r.Version+"/"+srv.name, func(t *testing.T) {
				bin := filepath.Join(t.TempDir(), "bin")
				require.NoError(t, os.Mkdir(bin, 0o755))
				record := filepath.Join(bin, "hosts")
				wrapper := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$1\" >> %s\nexec %s -i %s -o Port=%s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes \"$@\"\n",
					record, sshBin, filepath.Join(dir, "client"), srv.Port, srv.KnownHosts)
				require.NoError(t, os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755))
				// restic returns the hosts it asked ssh for (0.14 connects twice).
				restic := func(url string) (string, []string, error) {
					os.Remove(record)
					cmd := exec.Command(r.Path, "--repo", url, "--password-file", password, "--no-cache", "init")
					cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
					out, err := cmd.CombinedOutput()
					hosts, _ := os.ReadFile(record)
					return string(out), strings.Fields(string(hosts)), err
				}
				repo := func(name string) string { return filepath.Join(t.TempDir(), name) }
				h, p := srv.Host, srv.Port
				bracketed := h
				if strings.Contains(h, ":") {
					bracketed = "[" + h + "]"
				}
				var cases []struct {
					url string
					ok  bool
				}
				add := func(url string, ok bool) {
					cases = append(cases, struct {
						url string
						ok  bool
					}{url, ok})
				}
				add("sftp://root@"+bracketed+":"+p+"/"+repo("url"), true)
				if srv.name == "IPv4" {
					add("sftp:root@"+h+":"+repo("short"), true)
				} else {
					add("sftp:root@"+h+":"+repo("short"), false)
					add("sftp:root@["+h+"]:"+repo("brackets"), false)
					add("sftp://root@"+h+"/"+repo("nobrackets"), false)
				}
				for _, c := range cases {
					diags := compileURL(t, c.url)
					out, hosts, err := restic(c.url)
					if c.ok {
						require.False(t, diags.HasErrors(), "the compiler refuses %s: %v", c.url, diags)
						require.NoError(t, err, "restic init %s:\n%s", c.url, out)
						for _, host := range hosts {
							require.Equal(t, h, host, "restic asked ssh for another host")
						}
						continue
					}
					t.Logf("restic reads %s as ssh host(s) %q", c.url, hosts)
					require.True(t, diags.HasErrors(), "the compiler accepts %s", c.url)
					require.Equal(t, "Invalid sftp URL", diags[0].Summary)
					require.NotNil(t, diags[0].Subject)
					if err == nil || slices.Contains(hosts, h) {
						t.Errorf("restic read %s as hosts %q (init: %v); the compiler refuses it as misread", c.url, hosts, err)
					}
				}
			})
		}
	}
}

// ipv6 reports whether the machine has IPv6 loopback, without skipping.
func ipv6(t *testing.T) bool {
	ok := true
	t.Run("IPv6 loopback", func(t *testing.T) {
		defer func() { ok = !t.Skipped() }()
		testenv.IPv6Loopback(t)
	})
	return ok
}

// compileURL compiles a node with one repository at url and returns the
// diagnostics.
func compileURL(t *testing.T, url string) hcl.Diagnostics {
	t.Helper()
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": "defaults {\n  retention {\n    daily = 7\n  }\n}\n",
		"hosts/n.hcl": fmt.Sprintf(`node "n" {
  repository "remote" {
    url           = %q
    password_file = "/run/secrets/restic"
    ssh {
      identity_file    = "/run/secrets/ssh-key"
      known_hosts_file = "/etc/bakc/ssh_known_hosts"
    }
  }
  job "home" {
    paths = ["/home"]
  }
}
`, url),
	})
	f, diags := LoadFleet(dir)
	if diags.HasErrors() {
		return diags
	}
	_, diags = f.Plan("n")
	return diags
}

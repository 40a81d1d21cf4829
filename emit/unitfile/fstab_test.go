package unitfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// fstabRead is what one reader of /etc/fstab made of a line: the
// mountpoint and the options.
type fstabRead struct{ Where, Options string }

// readWithGenerator gives line to the real systemd-fstab-generator
// (glibc's getmntent) and returns the Where= and Options= of the mount
// unit it writes, or its failure as Where.
func readWithGenerator(t *testing.T, line string) fstabRead {
	t.Helper()
	generator := ""
	for _, g := range []string{"/lib/systemd/system-generators/systemd-fstab-generator", "/usr/lib/systemd/system-generators/systemd-fstab-generator"} {
		if _, err := os.Stat(g); err == nil {
			generator = g
		}
	}
	if generator == "" {
		testenv.LookPath(t, "systemd-fstab-generator")
	}
	dir := t.TempDir()
	fstab := filepath.Join(dir, "fstab")
	require.NoError(t, os.WriteFile(fstab, []byte(line), 0o644))
	out := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o755))
	cmd := exec.Command(generator, out, out, out)
	cmd.Env = []string{"SYSTEMD_FSTAB=" + fstab, "SYSTEMD_PROC_CMDLINE="}
	o, err := cmd.CombinedOutput()
	if err != nil {
		// A cut line can crash it: "x-systemd.mount-timeout=" with
		// its value cut off aborts 252 in parse_sec_fix_0.
		return fstabRead{Where: "generator failed: " + err.Error() + ": " + string(o)}
	}
	mounts, _ := filepath.Glob(filepath.Join(out, "*.mount"))
	require.Len(t, mounts, 1, "generator output: %s", o)
	data, err := os.ReadFile(mounts[0])
	require.NoError(t, err)
	sec := parseIni(string(data))["Mount"]
	read := fstabRead{}
	if w := sec["Where"]; len(w) == 1 {
		// A unit file value: systemd reads %% as %.
		read.Where = strings.ReplaceAll(w[0], "%%", "%")
	}
	if opts := sec["Options"]; len(opts) == 1 {
		read.Options = opts[0]
	}
	return read
}

// readWithLibmount gives line to findmnt --tab-file (libmount's fstab
// parser, as mount(8) reads it).
func readWithLibmount(t *testing.T, line string) fstabRead {
	t.Helper()
	findmnt := testenv.LookPath(t, "findmnt")
	fstab := filepath.Join(t.TempDir(), "fstab")
	require.NoError(t, os.WriteFile(fstab, []byte(line), 0o644))
	o, err := exec.Command(findmnt, "--tab-file", fstab, "--raw", "--noheadings", "--output", "TARGET,OPTIONS").Output()
	require.NoError(t, err)
	target, opts, _ := strings.Cut(strings.TrimSuffix(string(o), "\n"), " ")
	// --raw writes unusual characters of a column as \xNN.
	return fstabRead{Where: unhex(target), Options: unhex(opts)}
}

func unhex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			var v byte
			for _, h := range []byte(s[i+2 : i+4]) {
				v <<= 4
				switch {
				case '0' <= h && h <= '9':
					v |= h - '0'
				default:
					v |= h - 'a' + 10
				}
			}
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestFstabReadersAgree writes NixOS's /etc/fstab line of NFS mounts
// (plan.NFSMount.NixOSFstabLine) and reads it with both real readers:
// systemd's fstab generator (glibc) and libmount (findmnt). A mount that
// plan.CheckFstab accepts reads back as itself in both; each one it
// refuses reads back as something else in at least one, so that the
// refusal is needed (issue 9, item 12: /mnt/nas\040backup was mounted
// at "/mnt/nas backup" while the units and restic used the other path;
// a ~4 KB line lost its options).
func TestFstabReadersAgree(t *testing.T) {
	opts := []string{"_netdev", "nfsvers=4.2", "noatime", "noauto", "x-systemd.automount", "x-systemd.mount-timeout=30s"}
	mount := func(mp string) plan.NFSMount {
		return plan.NFSMount{Server: "nas-1.example.net", Export: "/mnt/backup/web/restic", Mountpoint: mp, Options: opts}
	}
	// fill makes a mountpoint whose fstab line is n bytes long.
	fill := func(n int) string {
		base := len(mount("/m/").NixOSFstabLine())
		mp := "/m/"
		for left := n - base; left > 0; {
			c := min(left, 200)
			mp += strings.Repeat("x", c)
			left -= c
			if left > 0 {
				mp += "/"
				left--
			}
		}
		require.Len(t, mount(mp).NixOSFstabLine(), n)
		return mp
	}
	for _, tc := range []struct {
		name, mountpoint string
		refuse           bool
	}{
		{"plain", "/mnt/nas-backup", false},
		{"space", "/mnt/nas backup", false},
		{"quotes, dollar, percent, hash", `/mnt/it's "$x" 100% #1`, false},
		{"lone backslash", `/mnt/a\b`, false},
		{"backslash before two digits", `/mnt/a\04`, false},
		{"line at the limit", fill(plan.FstabLineMax), false},
		{"octal escape of a space", `/mnt/nas\040backup`, true},
		{"octal escape of a backslash", `/mnt/nas\134x`, true},
		{"any octal escape", `/mnt/nas\101`, true},
		{"two backslashes", `/mnt/a\\b`, true},
		{"line one byte over", fill(plan.FstabLineMax + 1), true}, // dump and pass lost
		{"line cutting the options", fill(plan.FstabLineMax + 8), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mount(tc.mountpoint)
			err := m.CheckFstab()
			if err == nil {
				err = plan.CheckNFSMountpoint(tc.mountpoint)
			}
			want := fstabRead{Where: tc.mountpoint, Options: strings.Join(opts, ",")}
			line := m.NixOSFstabLine()
			gen, lib := readWithGenerator(t, line), readWithLibmount(t, line)
			if !tc.refuse {
				require.NoError(t, err)
				if diff := cmp.Diff(want, gen); diff != "" {
					t.Errorf("systemd-fstab-generator read (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, lib); diff != "" {
					t.Errorf("libmount read (-want +got):\n%s", diff)
				}
				return
			}
			require.Error(t, err, "a mount the readers do not agree on was accepted")
			if len(line) == plan.FstabLineMax+1 {
				// Only " 0" of the pass field is not read: the same
				// meaning, refused so that the rule is "read whole".
				return
			}
			if gen == want && lib == want {
				t.Errorf("refused, but both readers read it back as itself: the refusal is not needed")
			}
		})
	}
}

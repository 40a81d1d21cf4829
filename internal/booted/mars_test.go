package booted_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/internal/testenv"
)

// mars-init (issue 13): a new node as a user adds it. On the host, a
// copy of the example fleet gets an operator's age key and a .sops.yaml
// for it, then `bakc init mars --path /srv/data` with the real sops
// writes hosts/mars.hcl and secrets/mars.yaml (a new restic password),
// and `bakc units` writes mars's units from that copy. The password is
// decrypted with the same sops and key and put where the plan's secret
// says, owned and moded as sops-nix puts it (installSops). Inside, the
// first backup initialises the repository (init = true, as init
// writes it) and backs up /srv/data.
//
// Stand-ins: the NFS export is a tmpfs (standInNFS); sops-nix is the
// test decrypting with sops (no NixOS here), at the path, owner and
// mode the plan gives.

// sopsDecrypt decrypts one key of a sops file of the scenario's fleet.
type sopsDecrypt func(t *testing.T, s plan.Sops) []byte

// marsFleet copies the example fleet, adds mars with `bakc init` and
// the real sops, and returns the copy with its decryption.
func marsFleet(t *testing.T) (string, sopsDecrypt) {
	sops := testenv.Sops(t)
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet")
	out, err := exec.Command("cp", "-r", filepath.Join(booted.ModuleRoot(t), "examples", "homelab"), fleet).CombinedOutput()
	require.NoError(t, err, "%s", out)
	key, recipient := testenv.AgeKey(t, dir, "operator.txt")
	rules := "creation_rules:\n  - path_regex: secrets/[^/]+\\.yaml$\n    age: " + recipient + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(fleet, ".sops.yaml"), []byte(rules), 0o644))
	env := append(os.Environ(), "SOPS_AGE_KEY_FILE="+key)

	cmd := exec.Command(booted.Bakc(t), "init", "mars", "--fleet", fleet, "--path", "/srv/data", "--sops", sops)
	cmd.Env = env
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "bakc init:\n%s", out)

	return fleet, func(t *testing.T, s plan.Sops) []byte {
		t.Helper()
		args := []string{"decrypt"}
		if s.Key != "" {
			args = append(args, "--extract", plan.SopsIndex(s.Key))
		}
		cmd := exec.Command(sops, append(args, filepath.Join(fleet, filepath.FromSlash(s.File)))...)
		cmd.Env = env
		var stderr []byte
		data, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		require.NoError(t, err, "sops decrypt %s: %s", s.File, stderr)
		return data
	}
}

// installSops puts every secret of the plan where sops-nix puts it: the
// decrypted value as it is, at the secret's path, owned by the backup
// user and its group, mode plan.SecretMode. It replaces installNode's
// stand-in password files.
func installSops(t *testing.T, m *booted.Machine, p *plan.Plan, decrypt sopsDecrypt) {
	t.Helper()
	mode, err := strconv.ParseUint(plan.SecretMode, 8, 32)
	require.NoError(t, err)
	require.NotEmpty(t, p.Secrets, "the plan declares its secrets to sops-nix")
	for _, s := range p.Secrets {
		require.NotNil(t, s.Sops, "secret %s has no sops source", s.Name)
		m.WriteFileOwned(s.Path, decrypt(t, *s.Sops), fs.FileMode(mode), p.User.UID, p.User.GID)
	}
}

func setupMars(t *testing.T, m *booted.Machine, p *plan.Plan) {
	standInNFS(t, m, p)
	m.WriteFile("/srv/data/notes.txt", []byte("mars's notes\n"), 0o644)
	m.WriteFileOwned("/srv/data/private/key.txt", []byte("mars's private file\n"), 0o600, 0, 0)
	// Not needed on mars.
	m.Mask("postgresql.service")
}

func insideMars(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	r, ok := p.Repository("nas")
	require.True(t, ok)

	t.Run("secret-as-sops-nix-puts-it", func(t *testing.T) {
		fi, err := os.Stat(r.PasswordFile)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o400), fi.Mode().Perm())
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, []int{p.User.UID, p.User.GID}, []int{int(st.Uid), int(st.Gid)})
		data, err := os.ReadFile(r.PasswordFile)
		require.NoError(t, err)
		assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, string(data), "the password bakc init made, decrypted by sops (not the tier's stand-in)")
	})

	t.Run("first-backup", func(t *testing.T) {
		run(t, "bakc-backup-system.service", "success", 0)
		ms := metrics(t, p, "bakc-backup-system.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "system", "nas"))
		assert.Positive(t, ms[`bakc_backup_last_success_timestamp_seconds{job="system",repository="nas"}`])
		assert.Empty(t, errorLinesOf(t, p, "backup", "system"))
		nas := openRepo(t, p, "nas", "", p.User.UID)
		snaps := nas.snapshots(t, "job:system")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Equal(t, []string{"/srv/data"}, snaps[0].Paths)
		files := nas.files(t, snaps[0].ID)
		assert.Contains(t, files, "/srv/data/notes.txt")
		assert.Contains(t, files, "/srv/data/private/key.txt", "read with CAP_DAC_READ_SEARCH")
		assert.Len(t, nas.keys(t), 1, "the repository the run initialised, with the password from sops")
		nas.check(t)
	})
}

package runbook

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite examples/homelab/out/<node>/runbook.md")

const exampleOut = "../../examples/homelab/out"

// exampleNodes are the example fleet's nodes that have a plan.json (the
// compiler's golden output; forge's was written by hand as its target).
func exampleNodes(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(exampleOut, "*", "plan.json"))
	require.NoError(t, err)
	require.NotEmpty(t, matches, "no example plans under %s", exampleOut)
	var nodes []string
	for _, m := range matches {
		nodes = append(nodes, filepath.Base(filepath.Dir(m)))
	}
	return nodes
}

func renderExample(t *testing.T, node string) []byte {
	t.Helper()
	p, err := plan.ReadFile(filepath.Join(exampleOut, node, "plan.json"))
	require.NoError(t, err)
	out, err := Render(p, Options{})
	require.NoError(t, err)
	return out
}

// TestGolden compares each example node's runbook with
// examples/homelab/out/<node>/runbook.md (-update rewrites them), and
// checks that rendering twice gives the same bytes.
func TestGolden(t *testing.T) {
	for _, node := range exampleNodes(t) {
		t.Run(node, func(t *testing.T) {
			got := renderExample(t, node)
			require.Equal(t, string(got), string(renderExample(t, node)), "two renders differ")
			golden := filepath.Join(exampleOut, node, "runbook.md")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./emit/runbook -run Golden -update")
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s is out of date (-want +got); review and run -update:\n%s", golden, diff)
			}
		})
	}
}

// TestForgeRunbook checks, in the forge example, what the runbook must
// say for each part of the plan (the golden file shows the whole).
func TestForgeRunbook(t *testing.T) {
	md := string(renderExample(t, "forge"))
	for _, want := range []string{
		// Schedules in both forms, and the delay in systemd's words.
		"- Schedule: `hourly`, which systemd reads as `*-*-* *:00:00`, each run at a fixed offset of up to `30min` after that (the same every run, chosen by systemd per machine and timer).",
		"- Schedule: `weekly`, which systemd reads as `Mon *-*-* 00:00:00`",
		// Retention in words and in restic's terms.
		"Keeps the newest snapshot of each of the last 4 weeks, 3 months and 1 year",
		"`--keep-daily 14 --keep-weekly 8 --keep-monthly 6 --keep-yearly 2`",
		// The NFS source, and the mount before restoring.
		"- NFS export `nas-1.holthome.net:/mnt/backup/forge/restic`: the dataset `backup/forge/restic` on `nas-1`",
		"mountpoint -q /mnt/nas || mount -t nfs -o 'nfsvers=4.2,noatime' nas-1.holthome.net:/mnt/backup/forge/restic /mnt/nas\n",
		// Credentials of the cloud repository, read by systemd, not sh.
		"systemd-run --quiet --collect --wait --pipe '--property=EnvironmentFile=/run/secrets/bakc/cloud-secondary/environment' \\\n",
		// The exact restore command of a path.
		"bakc_restic restore latest --host forge --tag job:system --path /home --include /home --target /var/tmp/bakc-restore/system\n",
		"\"$(command -v restic)\" --repo b2:bucket-name:/forge --password-file /run/secrets/bakc/cloud-secondary/password --cache-dir /var/cache/bakc \"$@\"\n",
	} {
		require.Contains(t, md, want)
	}
	// One restore section per job and repository, with one block per path.
	for _, c := range []struct {
		job, repo string
		paths     int
	}{{"databases", "nas-primary", 2}, {"plex", "cloud-secondary", 1}, {"plex", "nas-primary", 1}, {"system", "nas-primary", 2}} {
		setup, perPath := restoreSection(t, md, c.job, c.repo)
		require.Len(t, perPath, c.paths, "%s from %s", c.job, c.repo) // databases: the dump into a file and into psql
		require.True(t, strings.HasSuffix(setup, "\nbakc_restic snapshots --host forge --tag job:"+c.job), "%s from %s: the setup block ends listing the snapshots", c.job, c.repo)
		require.Equal(t, c.repo == "nas-primary", strings.Contains(setup, "mount -t nfs"), "%s: mount only for NFS", c.repo)
		require.Equal(t, c.repo == "cloud-secondary", strings.Contains(setup, "EnvironmentFile="), "%s: credentials only for the cloud", c.repo)
		require.NotContains(t, setup, "set -a", "%s: an environment file is never sourced", c.repo)
	}
	// The system job is not in the cloud, nor the databases job, which
	// lists no repositories and cloud-secondary is not a default one.
	require.NotContains(t, md, "### Restore job `system` from `cloud-secondary`")
	require.NotContains(t, md, "### Restore job `databases` from `cloud-secondary`")
}

func TestRenderRefuses(t *testing.T) {
	base := func() *plan.Plan {
		p, err := plan.ReadFile(filepath.Join(exampleOut, "forge", "plan.json"))
		require.NoError(t, err)
		return p
	}
	tests := []struct {
		name   string
		change func(p *plan.Plan)
		opts   Options
		want   string
	}{
		{"relative restore root", func(*plan.Plan) {}, Options{RestoreRoot: "restore"}, `the restore root "restore" is not an absolute, clean path`},
		{"relative job path", func(p *plan.Plan) { p.Jobs[1].Paths[0] = "persist/x" }, Options{}, `the path of job plex "persist/x" is not an absolute, clean path`},
		{"NUL in a path", func(p *plan.Plan) { p.Jobs[1].Paths[0] = "/persist/\x00" }, Options{}, `path "/persist/\x00" contains a NUL byte`},
		{"absolute dump filename", func(p *plan.Plan) { p.Jobs[0].Dumps[0].Filename = "/x.sql" }, Options{}, `filename "/x.sql" is not a clean relative path`},
		{"comma in a dump tag", func(p *plan.Plan) { p.Jobs[0].Dumps[0].Tag = "dump:a,b" }, Options{}, `dump tag "dump:a,b" cannot be given`},
		{"comma in the job tag", func(p *plan.Plan) { p.Jobs[0].JobTag = "job:a,b" }, Options{}, `tag "job:a,b" cannot be given to restic --tag`},
		{"relative environment file", func(p *plan.Plan) { p.Repositories[0].EnvironmentFile = "creds" }, Options{}, `environment file of repository cloud-secondary "creds"`},
		{"invalid schedule", func(p *plan.Plan) { p.Jobs[0].Schedule.Calendar = "dayly" }, Options{}, `schedule of job databases: "dayly" is not a shorthand`},
		{"invalid delay", func(p *plan.Plan) { p.Jobs[0].Schedule.RandomizedDelay = "30 minuts" }, Options{}, `randomized delay of job databases: "minuts" is not a time unit`},
		{"unknown repository", func(p *plan.Plan) { p.Jobs[0].Repositories = []string{"nowhere"} }, Options{}, `names repository "nowhere"`},
		{"CR in a hook", func(p *plan.Plan) { p.Jobs[0].Hooks.PreBackup = "true\rfalse" }, Options{}, `a hook holds the control character U+000D`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.change(p)
			_, err := Render(p, tt.opts)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRetentionWords(t *testing.T) {
	tests := []struct {
		r           plan.Retention
		words, flag string
	}{
		{plan.Retention{}, "No retention policy: snapshots are never forgotten.", ""},
		{plan.Retention{Last: 1}, "Keeps the most recent snapshot; restic forgets", "--keep-last 1"},
		{plan.Retention{Last: 3, Hourly: 24}, "Keeps the 3 most recent snapshots and the newest snapshot of each of the last 24 hours (periods", "--keep-last 3 --keep-hourly 24"},
		{plan.Retention{Daily: 1, Within: "2y5m"}, "Keeps the newest snapshot of each of the last 1 day (periods without a snapshot are not counted) and every snapshot made within 2y5m of the newest one;", "--keep-daily 1 --keep-within 2y5m"},
	}
	for _, tt := range tests {
		if got := retentionWords(tt.r); !strings.HasPrefix(got, tt.words) {
			t.Errorf("retentionWords(%+v) = %q, want it to start with %q", tt.r, got, tt.words)
		}
		if got := retentionFlags(tt.r); got != tt.flag {
			t.Errorf("retentionFlags(%+v) = %q, want %q", tt.r, got, tt.flag)
		}
	}
}

func TestManualMountOptions(t *testing.T) {
	got := manualMountOptions([]string{"_netdev", "nfsvers=4.2", "noatime", "noauto", "nofail", "x-systemd.automount", "x-systemd.idle-timeout=600", "ro", "soft", "timeo=50"})
	if diff := cmp.Diff([]string{"nfsvers=4.2", "noatime", "ro", "soft", "timeo=50"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestHooksPrintedWhole renders hooks of several lines, with backticks,
// fences of their own, tabs and indentation, and reads each back out of
// the Markdown the way CommonMark reads a fenced code block (shellBlocks):
// what a reader copies is the hook byte for byte, and sh parses it.
func TestHooksPrintedWhole(t *testing.T) {
	sh := testenv.LookPath(t, "sh")
	p, err := plan.ReadFile(filepath.Join(exampleOut, "forge", "plan.json"))
	require.NoError(t, err)
	hooks := map[string]string{
		"Before each backup":        "set -e\nif [ -d /var/lib/db ]; then\n\techo \"`date` dump\" >> /tmp/hook.log\n    pg_dumpall > /tmp/x.sql\nfi\n",
		"After a successful backup": "cat <<'EOF' > /tmp/note\n```\n````sh\nnot a fence to sh\n````\nEOF",
		"After a failed backup":     "echo ```` failed; echo '#' * $HOME",
	}
	j := &p.Jobs[2]
	j.Hooks.PreBackup, j.Hooks.PostBackup, j.Hooks.OnFailure = hooks["Before each backup"], hooks["After a successful backup"], hooks["After a failed backup"]
	md, err := Render(p, Options{})
	require.NoError(t, err)
	section := string(md)[strings.Index(string(md), "### Job `system`"):]
	section = section[:strings.Index(section, "\n## ")]
	for label, hook := range hooks {
		i := strings.Index(section, "\n"+label)
		require.GreaterOrEqual(t, i, 0, "no %q in:\n%s", label, section)
		blocks := shellBlocks(t, section[i:])
		require.NotEmpty(t, blocks, "no code block after %q", label)
		want := strings.TrimSuffix(hook, "\n")
		require.Equal(t, want, blocks[0], "%s: the code block is not the hook", label)
		out, err := exec.Command(sh, "-n", "-c", blocks[0]).CombinedOutput()
		require.NoError(t, err, "sh -n %s:\n%s", label, out)
	}
}

// TestIPv6NASMountLine: with an IPv6 NAS, the runbook's mount line gives
// mount the bracketed source (plan.NFSMount.Source, which
// TestSourceReadByMountNFS has mount.nfs read) as one word. sh runs the
// setup block with mount, mountpoint and mkdir as functions that print
// what they were given.
func TestIPv6NASMountLine(t *testing.T) {
	sh := testenv.LookPath(t, "sh")
	p, err := plan.ReadFile(filepath.Join(exampleOut, "forge", "plan.json"))
	require.NoError(t, err)
	for i := range p.Repositories {
		if p.Repositories[i].NFS != nil {
			p.Repositories[i].NFS.Server = "fd00::1"
		}
	}
	md, err := Render(p, Options{})
	require.NoError(t, err)
	require.Contains(t, string(md), "- NFS export `[fd00::1]:/mnt/backup/forge/restic`")
	setup, _ := restoreSection(t, string(md), "system", "nas-primary")
	mountLine := ""
	for _, l := range strings.Split(setup, "\n") {
		if strings.Contains(l, "mount -t nfs") {
			mountLine = l
		}
	}
	require.NotEmpty(t, mountLine)
	script := "mkdir() { :; }\nmountpoint() { return 1; }\nmount() { printf '%s\\n' \"$@\"; }\n" + mountLine
	out, err := exec.Command(sh, "-c", script).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "-t\nnfs\n-o\nnfsvers=4.2,noatime\n[fd00::1]:/mnt/backup/forge/restic\n/mnt/nas\n", string(out))
}

// The runbook says why a job writes where it does (issue 9: repository
// roles), and which retention applies in which repository.
func TestRunbookRepositoryRoles(t *testing.T) {
	p, err := plan.ReadFile("../../examples/homelab/out/forge/plan.json")
	require.NoError(t, err)
	out, err := Render(p, Options{})
	require.NoError(t, err)
	md := string(out)
	for _, want := range []string{
		"- Repositories: `nas-primary` (the job lists none, so it writes to the node's default repositories; not to `cloud-secondary`, which has `default = false` and gets only the jobs that list it)",
		"- Repositories: `cloud-secondary`, `nas-primary` (listed by the job)",
		"- Retention in `nas-primary`: Keeps the newest snapshot of each of the last 4 weeks, 3 months and 1 year",
		"- Retention in `cloud-secondary` (the repository's own, in place of the job's): Keeps the newest snapshot of each of the last 7 days, 4 weeks and 3 months",
		"- Jobs: `plex`; only the jobs that list it write here (`default = false`)",
		"- Retention, for every job in this repository, in place of the job's: Keeps the newest snapshot of each of the last 7 days, 4 weeks and 3 months",
		"- Jobs: `databases`, `plex`, `system`; every job that lists no repositories writes here",
	} {
		require.Contains(t, md, want)
	}
}

// A job's restic options that leave files out of the backup (issue 9)
// are in the runbook: who restores must know that those files are not
// there. The example's jobs use none of them, so its runbook is the same.
func TestRunbookBackupOptions(t *testing.T) {
	p, err := plan.ReadFile(filepath.Join(exampleOut, "forge", "plan.json"))
	require.NoError(t, err)
	j := &p.Jobs[1]
	require.Equal(t, "plex", j.Name)
	j.ExcludeCaches, j.OneFileSystem, j.ExcludeLargerThan = true, true, "2G"
	md, err := Render(p, Options{})
	require.NoError(t, err)
	section := string(md)[strings.Index(string(md), "### Job `plex`"):]
	section = section[:strings.Index(section, "\n### ")]
	for _, want := range []string{
		"- Also excluded: the contents of every folder with a `CACHEDIR.TAG` file (restic's `--exclude-caches`; the tag file itself is kept)\n",
		"- Also excluded: other file systems mounted below the paths (restic's `--one-file-system`; their mountpoint folders are kept, empty)\n",
		"- Also excluded: every file larger than `2G` (restic's `--exclude-larger-than`, powers of 1024)\n",
	} {
		require.Contains(t, section, want)
	}
	require.NotContains(t, string(renderExample(t, "forge")), "Also excluded")
}

package restic

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestArgv(t *testing.T) {
	local := time.FixedZone("test", 2*3600)
	r := &Restic{Binary: "/bin/restic", Repo: "sftp:u@h:/r", PasswordFile: "/run/pw", CacheDir: "/var/cache/bakc",
		Options: []string{"sftp.command=ssh -p 2222 u@h -s sftp"}}
	noCache := &Restic{Binary: "restic", Repo: "/mnt/r", PasswordFile: "/pw"}
	tests := []struct {
		name string
		r    *Restic
		sub  []string
		want []string
	}{
		{
			name: "backup with everything",
			r:    r,
			sub: BackupArgs(BackupOptions{
				Paths: []string{"/home", "/persist"}, ExcludeFile: "/tmp/ex", Tags: []string{"job:system", "nightly"},
				Host: "forge", Time: time.Date(2025, 3, 1, 2, 3, 4, 0, local),
			}),
			want: []string{"/bin/restic", "--repo", "sftp:u@h:/r", "--password-file", "/run/pw", "--cache-dir", "/var/cache/bakc",
				"-o", "sftp.command=ssh -p 2222 u@h -s sftp",
				"backup", "--json", "--host", "forge", "--tag", "job:system", "--tag", "nightly", "--exclude-file", "/tmp/ex",
				"--time", time.Date(2025, 3, 1, 2, 3, 4, 0, local).Local().Format(TimeFormat), "--", "/home", "/persist"},
		},
		{
			name: "backup minimal, a path starting with a dash stays a path",
			r:    noCache,
			sub:  BackupArgs(BackupOptions{Paths: []string{"-weird"}}),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "backup", "--json", "--", "-weird"},
		},
		{
			name: "backup with the job's and the repository's restic options",
			r:    &Restic{Binary: "restic", Repo: "/mnt/r", PasswordFile: "/pw", Compression: "max", LimitUpload: 500, LimitDownload: 800},
			sub: BackupArgs(BackupOptions{Paths: []string{"/srv"}, ExcludeCaches: true, OneFileSystem: true,
				ExcludeLargerThan: "2G", ReadConcurrency: 4}),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache",
				"--compression", "max", "--limit-upload", "500", "--limit-download", "800",
				"backup", "--json", "--exclude-caches", "--one-file-system", "--exclude-larger-than", "2G", "--read-concurrency", "4", "--", "/srv"},
		},
		{
			name: "forget scoped to host and job",
			r:    noCache,
			sub: ForgetArgs(ForgetOptions{Host: "forge", Tag: "job:system", GroupBy: "host,paths,tags",
				Policy: Policy{Daily: 14, Weekly: 8, Monthly: 6, Yearly: 2}}),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "forget", "--host", "forge", "--tag", "job:system",
				"--group-by", "host,paths,tags", "--keep-daily", "14", "--keep-weekly", "8", "--keep-monthly", "6", "--keep-yearly", "2"},
		},
		{
			name: "forget with every keep",
			r:    noCache,
			sub:  ForgetArgs(ForgetOptions{Policy: Policy{Last: 1, Hourly: 2, Daily: 3, Weekly: 4, Monthly: 5, Yearly: 6, Within: "1y2m"}}),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "forget",
				"--keep-last", "1", "--keep-hourly", "2", "--keep-daily", "3", "--keep-weekly", "4", "--keep-monthly", "5", "--keep-yearly", "6", "--keep-within", "1y2m"},
		},
		{
			name: "check with a subset",
			r:    noCache,
			sub:  CheckArgs("5%"),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "check", "--read-data-subset", "5%"},
		},
		{
			name: "retry-lock in whole seconds, among the global flags",
			r:    &Restic{Binary: "restic", Repo: "/mnt/r", PasswordFile: "/pw", RetryLock: 2*time.Hour + 29*time.Minute + 59*time.Second + 600*time.Millisecond},
			sub:  PruneArgs(),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "--retry-lock", "2h30m0s", "prune"},
		},
		{
			name: "stuck-request-timeout in whole seconds, among the global flags",
			r:    &Restic{Binary: "restic", Repo: "s3:https://s3.example/b", PasswordFile: "/pw", StuckRequestTimeout: 30 * time.Second},
			sub:  CatConfigArgs(),
			want: []string{"restic", "--repo", "s3:https://s3.example/b", "--password-file", "/pw", "--no-cache", "--stuck-request-timeout", "30s", "cat", "config", "--no-lock"},
		},
		{
			name: "check structure only",
			r:    noCache,
			sub:  CheckArgs(""),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "check"},
		},
		{
			name: "snapshots filtered",
			r:    noCache,
			sub:  SnapshotsArgs("forge", "job:system"),
			want: []string{"restic", "--repo", "/mnt/r", "--password-file", "/pw", "--no-cache", "snapshots", "--json", "--host", "forge", "--tag", "job:system"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.r.Argv(tt.sub)); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyEmpty(t *testing.T) {
	if !(Policy{}).Empty() {
		t.Error("zero policy is not empty")
	}
	for _, p := range []Policy{{Last: 1}, {Hourly: 1}, {Daily: 1}, {Weekly: 1}, {Monthly: 1}, {Yearly: 1}, {Within: "1d"}} {
		if p.Empty() {
			t.Errorf("%+v is empty", p)
		}
	}
}

func TestEnvironDropsRepositoryAndPassword(t *testing.T) {
	t.Setenv("RESTIC_PASSWORD", "leak")
	t.Setenv("RESTIC_REPOSITORY", "/elsewhere")
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("KEEP_ME", "1")
	t.Setenv("TMPDIR", "/tmp/of-bakc")
	r := &Restic{ProgressFPS: 2, TempDir: "/var/cache/bakc/tmp", Env: []string{"AWS_ACCESS_KEY_ID=x", "RESTIC_PROGRESS_FPS=0.5"}}
	env := r.environ()
	got := map[string][]string{}
	for _, kv := range env {
		for _, name := range []string{"RESTIC_PASSWORD=", "RESTIC_REPOSITORY=", "NOTIFY_SOCKET=", "KEEP_ME=", "AWS_ACCESS_KEY_ID=", "RESTIC_PROGRESS_FPS=", "TMPDIR="} {
			if len(kv) >= len(name) && kv[:len(name)] == name {
				got[name] = append(got[name], kv[len(name):])
			}
		}
	}
	want := map[string][]string{
		"KEEP_ME=":             {"1"},
		"AWS_ACCESS_KEY_ID=":   {"x"},
		"RESTIC_PROGRESS_FPS=": {"2", "0.5"},                            // the environment file's comes last and wins
		"TMPDIR=":              {"/tmp/of-bakc", "/var/cache/bakc/tmp"}, // TempDir comes later and wins
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestParseFeatures(t *testing.T) {
	out := `All Feature Flags:
Name                        Type    Default  Description
------------------------------------------------------------------------------------------
backend-error-redesign      beta    true     enforce timeouts for stuck HTTP requests and use new backend error handling design.
deprecate-legacy-index      stable  true     disable support for index format used by restic 0.1.0.
device-id-for-hardlinks     alpha   false    store deviceID only for hardlinks to reduce metadata changes
------------------------------------------------------------------------------------------
`
	want := map[string]string{"backend-error-redesign": "beta", "deprecate-legacy-index": "stable", "device-id-for-hardlinks": "alpha"}
	if diff := cmp.Diff(want, parseFeatures(out)); diff != "" {
		t.Errorf("parseFeatures (-want +got):\n%s", diff)
	}
	if got := parseFeatures("unknown command \"features\" for \"restic\"\n"); len(got) != 0 {
		t.Errorf("parseFeatures of an error = %v, want none", got)
	}
}

// The feature flags bakc switches on come first in RESTIC_FEATURES, the
// ones of bakc's own environment after them (restic keeps the last value
// of a flag), and the repository's environment file replaces it whole.
func TestEnvironFeatures(t *testing.T) {
	get := func(env []string) []string {
		var vals []string
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "RESTIC_FEATURES="); ok {
				vals = append(vals, v)
			}
		}
		return vals
	}
	t.Setenv("RESTIC_FEATURES", "")
	r := &Restic{Features: []string{"device-id-for-hardlinks"}}
	if diff := cmp.Diff([]string{"device-id-for-hardlinks"}, get(r.environ())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	t.Setenv("RESTIC_FEATURES", "device-id-for-hardlinks=false,s3-restore")
	if diff := cmp.Diff([]string{"device-id-for-hardlinks,device-id-for-hardlinks=false,s3-restore"}, get(r.environ())); diff != "" {
		t.Errorf("with bakc's own (-want +got):\n%s", diff)
	}
	r.Env = []string{"RESTIC_FEATURES=x"}
	if diff := cmp.Diff([]string{"device-id-for-hardlinks,device-id-for-hardlinks=false,s3-restore", "x"}, get(r.environ())); diff != "" {
		t.Errorf("with the environment file's, which comes last (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"device-id-for-hardlinks=false,s3-restore"}, get((&Restic{}).environ())); diff != "" {
		t.Errorf("without flags of bakc's, its own pass (-want +got):\n%s", diff)
	}
}

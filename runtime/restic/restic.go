// Package restic runs the restic binary for bakc: it builds argument
// vectors (never shell strings), runs restic as the backup user, parses the
// JSON that `backup --json` streams, keeps restic's stderr for the error
// report, and turns restic's exit code and stderr into a failure category.
//
// It knows nothing about plans or jobs: the runtime decides what to back
// up and where, this package only speaks restic. Both restic 0.14 (Debian;
// exit code 1 for most failures) and 0.18 (exit codes 10, 11, 12, 130 and
// an exit_error JSON line on stderr) are understood.
package restic

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/holthome/bakc/escape"
)

// Restic is one restic binary pointed at one repository. The zero value is
// not useful; fill in at least Binary, Repo and PasswordFile.
type Restic struct {
	// Binary is the restic executable (a path, or a name looked up in PATH).
	Binary string
	// Repo is given as --repo: a folder or a restic URL.
	Repo string
	// PasswordFile is given as --password-file. The password itself never
	// passes through bakc.
	PasswordFile string
	// CacheDir is given as --cache-dir; empty means --no-cache.
	CacheDir string
	// TempDir is given as TMPDIR: where restic writes its temporary pack
	// files (and unlinks them at once). Empty leaves bakc's own TMPDIR.
	// The repository's environment file (Env) may still set another.
	TempDir string
	// Features are restic's feature flags to switch on (RESTIC_FEATURES,
	// restic ≥ 0.17; see ListFeatures). Flags in bakc's own RESTIC_FEATURES
	// come after them and win; the repository's environment file (Env)
	// replaces the variable whole.
	Features []string
	// Options are extended options given as `-o key=value` to every call
	// (for example sftp.command), in order.
	Options []string
	// Env are extra KEY=value variables for restic's environment (the
	// repository's environment file: cloud credentials). They are never
	// logged.
	Env []string
	// Credential, when set, runs restic as that user and group with the
	// ambient capability CAP_DAC_READ_SEARCH, so that a root runtime can
	// read every source file while the repository is written by the backup
	// user only. Needs root (or CAP_SETUID, CAP_SETGID and the capability
	// in the bounding set).
	Credential *syscall.Credential
	// Capabilities replace CAP_DAC_READ_SEARCH as the ambient
	// capabilities restic gets with a Credential: RestoreCapabilities for
	// a restore that puts owners and modes back. Nil is
	// CAP_DAC_READ_SEARCH alone.
	Capabilities []uintptr
	// ProgressFPS is how many status lines per second `backup --json`
	// prints (RESTIC_PROGRESS_FPS); restic's default in JSON mode is 60,
	// which is far more than a terminal or systemd's status line needs.
	// Zero leaves restic's default.
	ProgressFPS float64
	// Log receives one line per restic start and end, and restic's stderr
	// line by line. Nil logs nothing.
	Log *slog.Logger
	// Compression is given as --compression (restic ≥ 0.14; a
	// repository of format version 1 ignores it); empty for restic's
	// default. LimitUpload and LimitDownload, when positive, are given
	// as --limit-upload and --limit-download (KiB/s).
	Compression                string
	LimitUpload, LimitDownload int
	// RetryLock, when positive, is given as --retry-lock: restic waits
	// that long for a lock held by another process before it gives up.
	// Only restic ≥ 0.16 knows the flag (Version.HasRetryLock); the
	// runtime sets it from the time left of its own lock wait.
	RetryLock time.Duration
	// StuckRequestTimeout, when positive, is given as
	// --stuck-request-timeout: restic cancels and retries an HTTP request
	// that made no progress that long. Only restic ≥ 0.17.1 knows the
	// flag (Version.HasStuckRequestTimeout).
	StuckRequestTimeout time.Duration
	// KillAfter is how long restic gets after SIGINT (its context ended)
	// before it is killed; 0 is StopGrace. A call that holds no lock
	// (cat config --no-lock) has nothing to clean up and can be given
	// less.
	KillAfter time.Duration
	// Advice, when set, may give a sentence to add to a failure's
	// message: what to do about it with this repository's settings (the
	// runtime gives the unlock command for a lock failure).
	Advice func(*Error) string
}

// GlobalArgs are the arguments every restic call starts with: repository,
// password file, cache and extended options. The subcommand follows them.
func (r *Restic) GlobalArgs() []string {
	args := []string{"--repo", r.Repo, "--password-file", r.PasswordFile}
	if r.CacheDir != "" {
		args = append(args, "--cache-dir", r.CacheDir)
	} else {
		args = append(args, "--no-cache")
	}
	for _, o := range r.Options {
		args = append(args, "-o", escape.ResticOption(o))
	}
	if r.Compression != "" {
		args = append(args, "--compression", r.Compression)
	}
	if r.LimitUpload > 0 {
		args = append(args, "--limit-upload", strconv.Itoa(r.LimitUpload))
	}
	if r.LimitDownload > 0 {
		args = append(args, "--limit-download", strconv.Itoa(r.LimitDownload))
	}
	if r.RetryLock > 0 {
		args = append(args, "--retry-lock", formatDuration(r.RetryLock))
	}
	if r.StuckRequestTimeout > 0 {
		args = append(args, "--stuck-request-timeout", formatDuration(r.StuckRequestTimeout))
	}
	return args
}

// Argv is the complete argument vector for a subcommand and its
// arguments, starting with the binary: what is run and what --dry-run
// prints.
func (r *Restic) Argv(sub []string) []string {
	argv := append([]string{r.Binary}, r.GlobalArgs()...)
	return append(argv, sub...)
}

// inheritedEnvDropped are variables of bakc's own environment that would
// change what restic does behind the plan's back (another repository or
// password) or that belong to bakc (NOTIFY_SOCKET). The repository's
// environment file may still set RESTIC_* variables on purpose.
var inheritedEnvDropped = []string{
	"RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE",
	"RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND",
	"RESTIC_CACHE_DIR", "RESTIC_KEY_HINT", "RESTIC_HOST",
	"NOTIFY_SOCKET",
}

// environ is restic's environment: bakc's own without the variables
// above, then the progress rate, TMPDIR and the feature flags, then the
// repository's Env (which wins: exec keeps the last value of a name).
func (r *Restic) environ() []string {
	var env []string
	features := r.Features
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if name == "RESTIC_FEATURES" && len(r.Features) > 0 {
			if value != "" {
				features = append(append([]string(nil), r.Features...), value)
			}
			continue
		}
		drop := false
		for _, d := range inheritedEnvDropped {
			if name == d {
				drop = true
				break
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	if r.ProgressFPS > 0 {
		env = append(env, "RESTIC_PROGRESS_FPS="+formatFPS(r.ProgressFPS))
	}
	if r.TempDir != "" {
		env = append(env, "TMPDIR="+r.TempDir)
	}
	if len(features) > 0 {
		env = append(env, "RESTIC_FEATURES="+strings.Join(features, ","))
	}
	return append(env, r.Env...)
}

func formatFPS(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// formatDuration is d in whole seconds (at least one) as Go's
// time.ParseDuration, which restic's duration flags use, reads it: "1h2m3s".
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return d.String()
}

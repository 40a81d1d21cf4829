package zfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Runner runs zfs(8). Its zero value is not usable; use New.
//
// A Runner is safe for concurrent use.
type Runner struct {
	log *slog.Logger

	// argv is the command every call starts with: the zfs binary, or
	// nsenter into the zfs-fuse daemon's mount namespace and then zfs.
	// Resolved on the first call (see resolve), so that a Runner built
	// before the process entered its own namespace still does the right
	// thing afterwards.
	once    sync.Once
	argv    []string
	argvErr error
	fixed   bool

	// BusyTimeout bounds how long Destroy retries "dataset is busy".
	BusyTimeout time.Duration
}

// DefaultBusyTimeout is how long Destroy retries a "dataset is busy"
// answer. zfs-fuse gives it for well under a second after a mount went
// away on an idle machine, but for more than 20 s on a loaded one (seen
// in CI: a clone's release failed after 10 s, leaving the run failed and
// the clone behind until the next run cleaned it). Waiting costs nothing
// when the destroy succeeds; a dataset that stays busy for a minute is
// really in use, and the run says so.
const DefaultBusyTimeout = 60 * time.Second

// New returns a Runner that finds the zfs command on its first call and,
// on zfs-fuse, runs it in the daemon's mount namespace (see the package
// documentation). log receives one debug record per command.
func New(log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{log: log, BusyTimeout: DefaultBusyTimeout}
}

// NewWithCommand returns a Runner that starts every call with argv (for
// example {"/usr/sbin/zfs"}) and probes nothing. Tests and callers that
// know better than the probe use it.
func NewWithCommand(log *slog.Logger, argv ...string) *Runner {
	r := New(log)
	r.argv = append([]string(nil), argv...)
	r.fixed = true
	return r
}

// Command returns the argv prefix every call starts with, resolving it if
// that has not happened yet: for logs and for tests.
func (r *Runner) Command() ([]string, error) {
	r.resolve()
	return append([]string(nil), r.argv...), r.argvErr
}

// resolve finds the zfs binary and decides whether calls must go through
// the zfs-fuse daemon's namespace.
func (r *Runner) resolve() {
	r.once.Do(func() {
		if r.fixed {
			return
		}
		bin, err := lookPath("zfs")
		if err != nil {
			r.argvErr = err
			return
		}
		r.argv = []string{bin}
		ns, err := FuseDaemonNamespace()
		if err != nil {
			r.argvErr = err
			return
		}
		if ns == "" {
			return
		}
		nsenter, err := lookPath("nsenter")
		if err != nil {
			r.argvErr = fmt.Errorf("zfs-fuse runs in another mount namespace and nsenter is needed to reach it: %w", err)
			return
		}
		r.argv = []string{nsenter, "--mount=" + ns, "--", bin}
		r.log.Debug("zfs-fuse daemon runs in another mount namespace; zfs commands run there", "namespace", ns)
	})
}

// lookPath finds a command in PATH or, since units and sudo often leave
// them out, in /usr/sbin and /sbin.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/run/current-system/sw/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in PATH, /usr/sbin or /sbin", name)
}

// CommandError is a zfs command that failed. It keeps the arguments and
// what zfs printed on stderr, which is where zfs says why.
type CommandError struct {
	// Args are the zfs arguments (without the binary or nsenter).
	Args []string
	// Stderr is zfs's own explanation, trimmed.
	Stderr string
	// Err is the exec error (usually *exec.ExitError).
	Err error
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("zfs %s: %s", strings.Join(e.Args, " "), strings.ReplaceAll(msg, "\n", "; "))
}

func (e *CommandError) Unwrap() error { return e.Err }

// stderrHas reports whether err is a CommandError whose stderr contains
// one of the given phrases. zfs has no error codes on its command line;
// these phrases are the same in OpenZFS and zfs-fuse.
func stderrHas(err error, phrases ...string) bool {
	var ce *CommandError
	if !errors.As(err, &ce) {
		return false
	}
	for _, p := range phrases {
		if strings.Contains(ce.Stderr, p) {
			return true
		}
	}
	return false
}

// IsBusy reports whether zfs refused because the dataset is in use (or,
// on zfs-fuse, was in use a moment ago).
func IsBusy(err error) bool { return stderrHas(err, "dataset is busy", "pool or dataset is busy") }

// IsNotExist reports whether zfs refused because the dataset or snapshot
// does not exist.
func IsNotExist(err error) bool {
	return stderrHas(err, "dataset does not exist", "could not find any snapshots to destroy")
}

// IsExist reports whether zfs refused because the name is taken.
func IsExist(err error) bool { return stderrHas(err, "dataset already exists") }

// IsNoSpace reports whether zfs refused because the pool is full.
func IsNoSpace(err error) bool { return stderrHas(err, "out of space", "No space left") }

// run is the one place a zfs command is executed: argv slice, context,
// stderr drained and kept, logged and timed. It returns stdout.
func (r *Runner) run(ctx context.Context, args ...string) ([]byte, error) {
	r.resolve()
	if r.argvErr != nil {
		return nil, &CommandError{Args: args, Err: r.argvErr}
	}
	argv := append(append([]string(nil), r.argv...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// zfs reads nothing; never let it wait on our stdin.
	cmd.Stdin = nil
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		cerr := &CommandError{Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
		r.log.Debug("zfs", "args", args, "duration", took, "error", cerr.Error())
		return stdout.Bytes(), cerr
	}
	r.log.Debug("zfs", "args", args, "duration", took)
	return stdout.Bytes(), nil
}

// Package namespace puts a run of bakc in a mount namespace of its own, so
// that what the run mounts (the ZFS snapshot views over the original
// paths) is seen by the run and the programs it starts (restic), and by
// nothing else on the host.
//
// Under systemd the units already give the service its own namespace
// (PrivateMounts=yes, or implied by ProtectSystem=); Enter notices that
// and does nothing. Otherwise it re-executes the running binary as a
// child in a new mount namespace and waits for it, forwarding signals,
// and the caller exits with the child's exit code.
//
// The child marks every mount a slave (MS_REC|MS_SLAVE), not private:
// nothing mounted inside reaches the host, exactly as with private, but
// mounts the host makes still reach the child. Two of those matter: an
// NFS automount that systemd completes on the host while the run waits
// for it, and the clones that the zfs-fuse daemon mounts in its own
// (the host's) namespace. That is also why the child is made with
// SysProcAttr.Cloneflags and not Unshareflags: Go follows an unshare of
// the mount namespace with its own MS_REC|MS_PRIVATE on /, which would cut
// both off before the child could say otherwise.
//
// For the host's mounts to propagate at all, they must happen below a
// shared mount. systemd mounts / shared, so on a normal host they do;
// where / is private (containers, this project's CI), Enter's parent
// makes a per-run folder, ShareDir(), a shared bind mount for the life of
// the child, and the zfs-fuse clones are mounted below it.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables between Enter's parent and its child. Both are
// removed from the child's environment as soon as it has read them, so
// that the programs the run starts (hooks, restic) never inherit them.
const (
	// envParentNS holds the parent's namespace ("mnt:[4026531832]"):
	// the child checks it really is somewhere else.
	envParentNS = "BAKC_MOUNT_NS_PARENT"
	// envShareDir holds the child's ShareDir, empty when there is none.
	envShareDir = "BAKC_MOUNT_NS_SHARE"
)

// DefaultShareRoot is where Enter's parent makes the per-run shared
// folder (ShareDir) unless WithShareRoot says otherwise.
const DefaultShareRoot = "/run/bakc/ns"

// Option changes what Enter does.
type Option func(*options)

type options struct {
	shareRoot string
	log       *slog.Logger
}

// WithShareRoot sets the folder below which Enter's parent makes the
// run's ShareDir (tests use a temporary folder). Empty means no ShareDir.
func WithShareRoot(dir string) Option { return func(o *options) { o.shareRoot = dir } }

// WithLogger sets where Enter logs what it does (the re-exec, the share
// folder, stale folders cleaned). The default discards.
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

// current is what this process knows about its namespace.
var current struct {
	sync.Mutex
	// entered is true in a child that Enter made.
	entered bool
	// shareDir is the child's ShareDir, "" when none.
	shareDir string
}

// ShareDir returns the folder, shared with the namespace of Enter's
// parent, below which mounts made by the parent's namespace (the zfs-fuse
// daemon's clones) appear in this one. It is "" when Enter made no such
// folder: in a namespace systemd gave us, where the host's / is shared
// and every folder receives the host's mounts.
func ShareDir() string {
	current.Lock()
	defer current.Unlock()
	return current.shareDir
}

// Enter returns inChild=true when the caller is now in a private mount
// namespace and must go on; otherwise it ran the child (the same binary,
// same arguments, in a new namespace) and returns its exit code for the
// caller to exit with. Call it first thing, before taking locks or
// starting goroutines that matter: the parent does nothing but wait.
//
// The child's exit code is passed on; a child killed by a signal gives
// 128+signal, as a shell reports it. SIGTERM, SIGINT and SIGHUP sent to
// the parent are forwarded to the child, and a cancelled ctx sends it
// SIGTERM; the parent keeps waiting until the child has cleaned up and
// exited. If the parent dies, the child gets SIGTERM.
//
// A signal sent to every process of the run at once (a terminal's Ctrl-C
// goes to the whole foreground process group; systemd's stop signals every
// process of the unit) reaches the child twice, directly and forwarded:
// the child must treat a repeated SIGTERM or SIGINT as the same request
// (signal.NotifyContext does), not as "stop cleaning up".
func Enter(ctx context.Context, opts ...Option) (inChild bool, exitCode int, err error) {
	o := options{shareRoot: DefaultShareRoot, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if parentNS, ok := os.LookupEnv(envParentNS); ok {
		return true, 0, enterChild(parentNS, os.Getenv(envShareDir), o.log)
	}
	isolated, why := isolated()
	if isolated {
		o.log.Debug("already in a private mount namespace", "why", why)
		return true, 0, nil
	}
	o.log.Debug("entering a private mount namespace by re-executing", "why", why)
	code, err := runChild(ctx, o)
	return false, code, err
}

// enterChild is the child's side of Enter.
func enterChild(parentNS, shareDir string, log *slog.Logger) error {
	os.Unsetenv(envParentNS)
	os.Unsetenv(envShareDir)
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return fmt.Errorf("reading this process's mount namespace: %w", err)
	}
	if own == parentNS {
		return fmt.Errorf("%s is set but this process is still in its parent's mount namespace %s; refusing to mount anything here", envParentNS, own)
	}
	// Nothing we mount may reach the host; the host's mounts may reach
	// us (see the package documentation).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making / a recursive slave mount in the private namespace: %w", err)
	}
	current.Lock()
	current.entered = true
	current.shareDir = shareDir
	current.Unlock()
	log.Debug("in a private mount namespace", "namespace", own, "share_dir", shareDir)
	return nil
}

// runChild is the parent's side of Enter: start the child in a new mount
// namespace, forward signals, wait, pass on its exit code.
func runChild(ctx context.Context, o options) (int, error) {
	ownNS, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return 1, fmt.Errorf("reading this process's mount namespace: %w", err)
	}
	share, err := prepareShareDir(o.shareRoot, o.log)
	if err != nil {
		// Kernel ZFS needs no share folder (and a unit with
		// ProtectSystem=strict cannot make one: not worth a warning
		// every night); zfs-fuse says clearly that its clones do not
		// reach the child.
		o.log.Debug("no shared folder for mounts made outside the run's namespace", "error", err)
		share = nil
	}
	shareDir := ""
	if share != nil {
		shareDir = share.dir
		defer func() {
			share.release(o.log)
			// A killed run's folder may have been kept by its clones'
			// mounts until our child's cleanup destroyed them.
			cleanStaleShareDirs(o.shareRoot, o.log)
		}()
	}

	cmd := &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   os.Args,
		Env:    append(os.Environ(), envParentNS+"="+ownNS, envShareDir+"="+shareDir),
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			// Cloneflags, not Unshareflags: see the package documentation.
			Cloneflags: syscall.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGTERM,
		},
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return 1, fmt.Errorf("starting bakc in a new mount namespace needs CAP_SYS_ADMIN (run as root): %w", err)
		}
		return 1, fmt.Errorf("starting bakc in a new mount namespace: %w", err)
	}
	o.log.Debug("child started in a new mount namespace", "pid", cmd.Process.Pid)

	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		ctxDone := ctx.Done()
		for {
			select {
			case sig := <-sigs:
				o.log.Debug("forwarding signal to the child", "signal", sig)
				_ = cmd.Process.Signal(sig)
			case <-ctxDone:
				ctxDone = nil
				_ = cmd.Process.Signal(syscall.SIGTERM)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	<-forwarded
	return exitCode(err)
}

// exitCode turns the child's end into an exit code for the parent.
func exitCode(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 1, err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}

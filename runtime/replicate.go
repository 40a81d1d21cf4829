package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/restic"
)

// `bakc run replicate` runs on the NAS: it is the syncoid that NixOS's
// services.syncoid starts (the NAS's generated configuration sets the
// module's package to a wrapper whose bin/syncoid runs bakc), so the
// module's own command line is kept whole and bakc adds what it adds to
// restic: a lock per copy, syncoid's failure told apart by category in
// the error log, the run's record (a killed run is reported by the next
// one), metrics with the last success and the copy's lag, and sd_notify
// status. docs/replication.md, "bakc run replicate".

// TaskReplicate is the task's name in locks, run records, state files and
// error lines.
const TaskReplicate = "replicate"

// PhaseReplicate is syncoid's run, in error lines.
const PhaseReplicate Phase = "replicate"

// The categories of a failed pull besides restic's network, auth,
// storage, lock, resource, interrupted and unknown (restic.Category, so
// that the error log has one vocabulary).
const (
	// CategoryHostKey: the node's sshd offered a host key other than
	// the declared one (a reinstalled node, or someone in between).
	CategoryHostKey restic.Category = "host_key"
	// CategoryRefused: the node's guard refused a command syncoid sent
	// (a syncoid whose commands bakc's guard does not know).
	CategoryRefused restic.Category = "refused"
	// CategoryDiverged: the copy and the node have no snapshot in common
	// any more: the node's history was destroyed or rewritten (the
	// ransomware case), or its snapshots were pruned before the NAS
	// pulled them. syncoid stops; the copies on the NAS are kept.
	CategoryDiverged restic.Category = "diverged"
)

// ReplicateRun is one `bakc run replicate`.
type ReplicateRun struct {
	// Config is where the NAS keeps state and reports: the NAS plan's
	// replication block (State, TextfileDir, ErrorLog).
	Config *plan.NASReplication
	// Syncoid is the real syncoid program; Args its arguments, as
	// NixOS's module (or a plain unit) wrote them: the last two are the
	// source USER@NODE:DATASET and the target dataset.
	Syncoid string
	Args    []string
	// ZFS is the zfs program the copy's newest snapshot is read with;
	// "" is zfs from PATH.
	ZFS string
	// Output receives syncoid's stdout and stderr (the journal).
	Output io.Writer
}

// ReplicateReport is what a replicate run did.
type ReplicateReport struct {
	Node, User, Source, Target string
	Start                      time.Time
	Duration                   time.Duration
	// SyncoidExitCode is -1 when syncoid did not run.
	SyncoidExitCode int
	// NewestSnapshot is the creation time of the copy's newest snapshot
	// after the run; zero when the copy has none or could not be read.
	NewestSnapshot time.Time
	Failures       []Failure
	ExitCode       int
}

// Succeeded reports whether syncoid pulled without a failure.
func (r *ReplicateReport) Succeeded() bool { return len(r.Failures) == 0 }

// parseSyncoidOperands returns the source and target of a syncoid
// command line bakc generated: its last two arguments,
// USER@NODE:DATASET and a local dataset.
func parseSyncoidOperands(args []string) (user, node, source, target string, err error) {
	if len(args) < 2 {
		return "", "", "", "", errors.New("syncoid's arguments end with the source USER@NODE:DATASET and the target dataset; there are fewer than two")
	}
	src, target := args[len(args)-2], args[len(args)-1]
	login, source, ok := strings.Cut(src, ":")
	if ok {
		user, node, ok = strings.Cut(login, "@")
	}
	if !ok {
		return "", "", "", "", fmt.Errorf("source %q is not USER@NODE:DATASET (the NAS pulls from a node)", src)
	}
	if err := plan.CheckName(plan.NameNode, node); err != nil {
		return "", "", "", "", fmt.Errorf("source %q: node name: %w", src, err)
	}
	if err := plan.CheckDatasetName(source); err != nil {
		return "", "", "", "", fmt.Errorf("source %q: %w", src, err)
	}
	if err := plan.CheckDatasetName(target); err != nil {
		return "", "", "", "", fmt.Errorf("target %q: %w", target, err)
	}
	return user, node, source, target, nil
}

// replicaName names a copy in file names: its dataset with "/" as "%2F"
// (and "%" as "%25"), one name per copy on the NAS.
func replicaName(target string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(target)
}

// Replicate runs syncoid once for one copy. The error is for a command
// line or configuration that cannot run at all (exit code 1); a failed
// pull is in the report.
func Replicate(ctx context.Context, run ReplicateRun, o Options) (*ReplicateReport, error) {
	c := run.Config
	if c == nil || c.State == "" || c.TextfileDir == "" {
		return nil, errors.New("replicate needs the NAS's state and textfile folders")
	}
	user, node, source, target, err := parseSyncoidOperands(run.Args)
	if err != nil {
		return nil, err
	}
	log := o.log().With("task", TaskReplicate, "node", node, "dataset", source, "target", target)
	name := replicaName(target)
	rep := &ReplicateReport{Node: node, User: user, Source: source, Target: target, Start: o.now(), SyncoidExitCode: -1}
	if o.DryRun {
		fmt.Fprintln(o.out(), shellWords(append([]string{run.Syncoid}, run.Args...)))
		return rep, nil
	}
	notify := func(s string) {
		if o.Notify != nil {
			if err := o.Notify("STATUS=" + s); err != nil {
				log.Debug("sd_notify", "error", err)
			}
		}
	}
	fail := func(f Failure) {
		log.Error("replication failed", "phase", f.Phase, "category", f.Category, "error", f.Err)
		rep.Failures = append(rep.Failures, f)
	}

	lock, err := AcquireLock(LockPath(c.State, TaskReplicate, name))
	if err != nil {
		// Another run of the same copy: it reports for itself; this one
		// writes its error line only.
		cat := restic.CategoryLock
		if !errors.Is(err, errLockHeld) {
			cat = restic.CategoryStorage // the state folder
		}
		fail(Failure{Phase: PhaseLock, ResticExitCode: -1, Category: cat, Err: err})
		rep.ExitCode = ExitLockHeld
		rep.writeErrorLines(c, o.now(), log)
		return rep, nil
	}
	defer lock.Release()
	record, killed := startRecord(c.State, TaskReplicate, name, rep.Start, nil, log)
	defer record.end()
	if killed != nil {
		f := killedFailure(killed)
		log.Error("an earlier run of the copy did not finish", "phase", f.Phase, "category", f.Category, "error", f.Err)
		k := &ReplicateReport{Node: node, Source: source, Target: target, SyncoidExitCode: -1, Failures: []Failure{f}}
		k.writeErrorLines(c, o.now(), log)
	}

	notify(fmt.Sprintf("pulling %s from %s into %s", source, node, target))
	record.phase(PhaseReplicate, "")
	rep.SyncoidExitCode, err = runSyncoid(ctx, run)
	if err != nil {
		fail(classifySyncoid(ctx, rep.SyncoidExitCode, err))
	}
	rep.Duration = o.now().Sub(rep.Start)
	if t, err := newestSnapshot(ctx, run.ZFS, target); err != nil {
		log.Warn("the copy's newest snapshot could not be read; no lag reported", "error", err)
	} else {
		rep.NewestSnapshot = t
	}
	switch {
	case rep.Succeeded():
		rep.ExitCode = ExitOK
		log.Info("replicated", "duration", rep.Duration.Round(time.Millisecond), "newest_snapshot", rep.NewestSnapshot)
	case rep.Failures[0].Category == restic.CategoryResource:
		rep.ExitCode = ExitInterrupted
	default:
		rep.ExitCode = ExitTaskFailed
	}
	if err := rep.writeReport(c, o.now()); err != nil {
		log.Error("writing the metrics", "error", err)
	}
	rep.writeErrorLines(c, o.now(), log)
	if rep.Succeeded() {
		notify(fmt.Sprintf("pulled %s from %s", source, node))
	} else {
		notify(fmt.Sprintf("pulling %s from %s failed (%s)", source, node, rep.Failures[0].Category))
	}
	return rep, nil
}

// syncoidTail is how much of syncoid's output is kept to classify a
// failure by: its last lines say why it stopped.
const syncoidTail = 64 << 10

// syncoidError is a syncoid that exited non-zero, with the end of its
// output and, once classified, the line that said why.
type syncoidError struct {
	code int
	out  string
	why  string
}

// Error is syncoid's exit code and the line that told the category,
// with syncoid's own CRITICAL line; without one, the output's last lines
// (syncoid often ends with notes after its reason).
func (e *syncoidError) Error() string {
	var said []string
	if e.why != "" {
		said = append(said, e.why)
	}
	for _, l := range strings.Split(e.out, "\n") {
		if l = strings.TrimSpace(l); strings.Contains(l, "CRITICAL") && l != e.why {
			said = append(said, l)
			break
		}
	}
	if len(said) == 0 {
		lines := strings.Split(strings.TrimSpace(e.out), "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		said = lines
	}
	return fmt.Sprintf("syncoid exited with code %d: %s", e.code, strings.Join(said, " ; "))
}

// lineWith is the first line of out containing text, trimmed.
func lineWith(out, text string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, text) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// runSyncoid runs syncoid with its output passed through and its tail
// kept. SIGTERM (the unit stopped) is passed on to syncoid, which is
// given a minute to end its ssh and zfs receive.
func runSyncoid(ctx context.Context, run ReplicateRun) (int, error) {
	out := run.Output
	if out == nil {
		out = io.Discard
	}
	tail := &tailBuffer{max: syncoidTail}
	cmd := exec.CommandContext(ctx, run.Syncoid, run.Args...)
	cmd.Stdout = io.MultiWriter(out, tail)
	cmd.Stderr = io.MultiWriter(out, tail)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), &syncoidError{code: ee.ExitCode(), out: tail.String()}
	default:
		return -1, fmt.Errorf("syncoid did not run: %w", err)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.buf.String() }

// syncoidPatterns tell a failed pull's category from what syncoid, ssh,
// the node's guard and zfs receive print, first match wins: the more
// specific causes before the generic connection failure syncoid reports
// for all of them.
var syncoidPatterns = []struct {
	cat  restic.Category
	text []string
}{
	{CategoryHostKey, []string{"Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED", "host key for", "No ED25519 host key is known", "No RSA host key is known", "No ECDSA host key is known"}},
	{CategoryRefused, []string{"bakc send-guard: refused"}},
	{restic.CategoryAuth, []string{"Permission denied (publickey", "Too many authentication failures", "Load key", "no such identity"}},
	{CategoryDiverged, []string{"has no snapshots matching with", "no matching snapshots", "destination has been modified", "has been modified since most recent snapshot", "most recent snapshot of"}},
	// Not "dataset does not exist": the node's zfs says it too, through
	// the guard, of a dataset gone there.
	{restic.CategoryStorage, []string{"out of space", "quota exceeded", "No space left on device"}},
	{restic.CategoryNetwork, []string{"Connection refused", "Connection timed out", "No route to host", "Network is unreachable", "Could not resolve hostname", "Name or service not known", "Temporary failure in name resolution", "Connection reset", "Connection closed by", "connection echo test failed", "Broken pipe", "Timeout, server", "kex_exchange_identification"}},
}

// classifySyncoid is the failure of a syncoid run that ended with err.
func classifySyncoid(ctx context.Context, code int, err error) Failure {
	f := Failure{Phase: PhaseReplicate, ResticExitCode: -1, Category: restic.CategoryUnknown, Err: err}
	if ctx.Err() != nil {
		f.Category = restic.CategoryResource
		f.Err = fmt.Errorf("interrupted (SIGTERM or SIGINT): %w", err)
		return f
	}
	var se *syncoidError
	if !errors.As(err, &se) {
		return f
	}
	for _, p := range syncoidPatterns {
		for _, t := range p.text {
			if strings.Contains(se.out, t) {
				f.Category = p.cat
				se.why = lineWith(se.out, t)
				return f
			}
		}
	}
	return f
}

// newestSnapshot is the creation time of the newest snapshot of the copy
// ds (`zfs get -Hp -d 1 creation`, which zfs-fuse has too); zero when it
// has none.
func newestSnapshot(ctx context.Context, zfs, ds string) (time.Time, error) {
	if zfs == "" {
		zfs = "zfs"
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(cctx, zfs, "get", "-Hp", "-d", "1", "-o", "name,value", "creation", ds)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("zfs get creation %s: %w: %s", ds, err, strings.TrimSpace(stderr.String()))
	}
	var newest int64
	for _, line := range strings.Split(string(out), "\n") {
		name, value, ok := strings.Cut(line, "\t")
		if !ok || !strings.HasPrefix(name, ds+"@") {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("zfs get creation %s: %q is not a time", name, value)
		}
		newest = max(newest, v)
	}
	if newest == 0 {
		return time.Time{}, nil
	}
	return time.Unix(newest, 0), nil
}

// writeErrorLines appends one line per failure to the NAS's error log.
func (r *ReplicateReport) writeErrorLines(c *plan.NASReplication, now time.Time, log *slog.Logger) {
	var lines []ErrorLine
	for _, f := range r.Failures {
		l := newErrorLine(now, r.Node, TaskReplicate, "", f)
		l.Dataset, l.Target = r.Source, r.Target
		if r.SyncoidExitCode >= 0 && f.Phase == PhaseReplicate {
			code := r.SyncoidExitCode
			l.SyncoidExitCode = &code
		}
		lines = append(lines, l)
	}
	if err := appendErrorLines(c.ErrorLog, lines, nil); err != nil {
		log.Error("writing the error log", "file", c.ErrorLog, "error", err)
	}
}

// writeReport updates the copy's state (the last success survives a
// failed run) and writes its metrics.
func (r *ReplicateReport) writeReport(c *plan.NASReplication, now time.Time) error {
	path := statePath(c.State, TaskReplicate, replicaName(r.Target))
	state, serr := readState(path)
	st := state.Repositories[r.Target]
	if r.Succeeded() {
		st.LastSuccess = r.Start
	}
	state.Repositories[r.Target] = st
	werr := state.write(path)
	merr := writeReplicationMetrics(replicationMetricsPath(c.TextfileDir, r.Target), r, st.LastSuccess, now)
	return errors.Join(serr, werr, merr)
}

// shellWords is argv as one line for a dry run's output.
func shellWords(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = escape.ShellQuote(a)
	}
	return strings.Join(out, " ")
}

package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// A job's notify block (plan.Notify) is for users without Prometheus: a
// healthchecks.io-style ping URL that hears when a run starts, succeeds
// or fails, and an ntfy-style URL or a command that hears of a failure.
// A notification is a side channel: each call is bounded by the block's
// timeout, a call that fails is logged and written to the error log with
// phase notify, and nothing of it changes the run's exit code, metrics or
// state. The calls at the end are made after the run's report is written
// and its record removed, so that a notification that hangs until the
// unit is stopped cannot make the next run report this one as killed.

// PhaseNotify is the phase of a notification that failed, in the error
// log. It never fails a run.
const PhaseNotify Phase = "notify"

// notifier makes a job's notification calls.
type notifier struct {
	cfg       *plan.Notify
	timeout   time.Duration
	node, job string
	log       *slog.Logger
	client    *http.Client
	// cred is who the failure command runs as (resticCredential).
	cred *syscall.Credential
}

// newNotifier is the notifier of a job, nil when it has no notify block.
func newNotifier(p *plan.Plan, job *plan.Job, cred *syscall.Credential, log *slog.Logger) *notifier {
	if job.Notify == nil {
		return nil
	}
	timeout, err := calendar.ParseTimespan(job.Notify.Timeout)
	if err != nil || timeout <= 0 || timeout > plan.MaxNotifyTimeout {
		// The plan was validated; never wait without a bound all the same.
		timeout = 10 * time.Second
	}
	return &notifier{
		cfg: job.Notify, timeout: timeout, node: p.Node.Name, job: job.Name,
		log: log.With("phase", PhaseNotify),
		// The client's own timeout covers reading the body too.
		client: &http.Client{Timeout: timeout},
		cred:   cred,
	}
}

// notifyStart pings the job's check that a run started. Only a run that
// holds the job's lock calls it.
func (r *backupRun) notifyStart() {
	n := newNotifier(r.plan, r.job, r.cred, r.log)
	if n == nil || n.cfg.PingURL == "" {
		return
	}
	r.notifyFailures(n.ping(r.ctx, "start", "/start", ""))
}

// notifyEnd tells the job's check and failure channels how the run
// ended. A run that did not get the job's lock says nothing: the run
// holding it will.
func (r *backupRun) notifyEnd() {
	n := newNotifier(r.plan, r.job, r.cred, r.log)
	if n == nil || !r.locked {
		return
	}
	var failures []Failure
	if r.report.ExitCode == ExitOK {
		if n.cfg.PingURL != "" {
			failures = append(failures, n.ping(r.ctx, "success", "", n.summary(&r.report))...)
		}
		r.notifyFailures(failures)
		return
	}
	msg := n.summary(&r.report)
	category := ""
	if len(r.report.Failures) > 0 {
		category = string(r.report.Failures[0].Category)
	}
	if n.cfg.PingURL != "" {
		failures = append(failures, n.ping(r.ctx, "fail", "/fail", msg)...)
	}
	if n.cfg.FailureURL != "" {
		failures = append(failures, n.post(r.ctx, msg)...)
	}
	if len(n.cfg.FailureCommand) > 0 {
		failures = append(failures, n.command(r.ctx, msg, category)...)
	}
	r.notifyFailures(failures)
}

// notifyFailures logs the failed calls and writes them to the error log.
func (r *backupRun) notifyFailures(failures []Failure) {
	if len(failures) == 0 {
		return
	}
	var lines []ErrorLine
	for _, f := range failures {
		r.log.Error("notification failed; the run is not affected", "phase", f.Phase, "category", f.Category, "error", f.Err)
		lines = append(lines, newErrorLine(r.o.now(), r.plan.Node.Name, "backup", r.job.Name, f))
	}
	if err := appendErrorLines(r.plan.Monitoring.ErrorLog, lines, r.cred); err != nil {
		r.log.Error("writing the error log", "file", r.plan.Monitoring.ErrorLog, "error", err)
	}
}

// summary is the text of a notification: the outcome and, for a failed
// run, each failure on a line.
func (n *notifier) summary(rep *Report) string {
	var b strings.Builder
	if rep.ExitCode == ExitOK {
		fmt.Fprintf(&b, "bakc: backup %s on %s succeeded in %.0f s\n", n.job, n.node, rep.Duration.Seconds())
		return b.String()
	}
	fmt.Fprintf(&b, "bakc: backup %s on %s failed (exit code %d)\n", n.job, n.node, rep.ExitCode)
	for _, f := range rep.Failures {
		fmt.Fprintf(&b, "%s [%s]\n", oneLine(f.String()), f.Category)
	}
	return b.String()
}

// ping requests the ping URL with suffix ("/start", "", "/fail"), body as
// healthchecks.io's log of the ping.
func (n *notifier) ping(ctx context.Context, what, suffix, body string) []Failure {
	return n.request(ctx, "ping ("+what+")", strings.TrimSuffix(n.cfg.PingURL, "/")+suffix, body, nil)
}

// post sends the failure to the failure URL, as ntfy reads a message.
func (n *notifier) post(ctx context.Context, msg string) []Failure {
	return n.request(ctx, "failure URL", n.cfg.FailureURL, msg, map[string]string{
		"Title":    fmt.Sprintf("bakc: backup %s on %s failed", n.job, n.node),
		"Priority": "high",
		"Tags":     "warning",
	})
}

// request POSTs body to target within the timeout; a transport error or
// a status other than 2xx is a failure. The URL is not in the failure:
// a ping URL is its check's secret, and the error log is read by more
// people than the plan.
func (n *notifier) request(ctx context.Context, what, target, body string, header map[string]string) []Failure {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.timeout)
	defer cancel()
	host := target
	if u, err := url.Parse(target); err == nil {
		host = u.Host
	}
	fail := func(cat restic.Category, err error) []Failure {
		return []Failure{{Phase: PhaseNotify, ResticExitCode: -1, Category: cat,
			Err: fmt.Errorf("%s to %s: %w", what, host, err)}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return fail(restic.CategoryUnknown, err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "bakc")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	began := time.Now()
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", n.timeout, err)
		}
		return fail(restic.CategoryNetwork, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fail(restic.CategoryAuth, fmt.Errorf("HTTP %s", resp.Status))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fail(restic.CategoryNetwork, fmt.Errorf("HTTP %s", resp.Status))
	}
	n.log.Info("notified", "call", what, "host", host, "seconds", time.Since(began).Seconds())
	return nil
}

// command runs the failure command without a shell, the message on its
// stdin and in BAKC_ERROR, as the backup user when bakc runs as root.
// Its process group is killed at the timeout.
func (n *notifier) command(ctx context.Context, msg, category string) []Failure {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.timeout)
	defer cancel()
	argv := n.cfg.FailureCommand
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(msg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(),
		"BAKC_NODE="+n.node, "BAKC_JOB="+n.job, "BAKC_CATEGORY="+category,
		"BAKC_ERROR="+oneLine(msg))
	// As restic runs: the backup user when bakc runs as root.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: n.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A child that keeps the output pipe open must not hold the run.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		n.log.Info("notified", "call", "failure command", "program", argv[0])
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("did not end within %v: %w", n.timeout, err)
	}
	detail := strings.TrimSpace(out.String())
	if len(detail) > 500 {
		detail = detail[:500] + "…"
	}
	if detail != "" {
		err = fmt.Errorf("%w: %s", err, oneLine(detail))
	}
	return []Failure{{Phase: PhaseNotify, ResticExitCode: -1, Category: restic.CategoryUnknown,
		Err: fmt.Errorf("failure command %s: %w", argv[0], err)}}
}

package restic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long restic gets to remove its lock and exit after it
// was asked to stop (SIGINT) before it is killed.
const StopGrace = 30 * time.Second

// stderrKeep is how much of the end of restic's stderr an Error keeps.
const stderrKeep = 16 << 10

// Error is a restic call that did not succeed: it could not start, it
// exited non-zero, or it was stopped.
type Error struct {
	// Subcommand is restic's subcommand ("backup", "forget", …).
	Subcommand string
	// ExitCode is restic's exit code; 128+n when it died of signal n, -1
	// when it did not start.
	ExitCode int
	// Stderr is the end of what restic wrote to stderr.
	Stderr string
	// Message is the most telling line: restic's exit_error message, its
	// last "Fatal:" line, its last stderr line, or why it did not start.
	Message string
	// Err is the underlying error from starting or waiting, if any.
	Err error
	// Stopped is set when bakc stopped restic itself because of what it
	// printed (a full repository: CategoryStorage); it is the category.
	Stopped Category
}

func (e *Error) Error() string {
	if e.ExitCode < 0 {
		return fmt.Sprintf("restic %s: %s", e.Subcommand, e.Message)
	}
	return fmt.Sprintf("restic %s: exit code %d: %s", e.Subcommand, e.ExitCode, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Category is what the failure was about, from the exit code first and
// stderr second (see Classify); a restic that did not start is judged by
// why ("permission denied", "no such file").
func (e *Error) Category() Category {
	if e.Stopped != "" {
		return e.Stopped
	}
	return Classify(e.ExitCode, e.Stderr+"\n"+e.Message)
}

// fullRE recognises restic's report of a write that failed because the
// repository's disk is full or its quota reached: an error ending in
// "no space left on device" (ENOSPC) or "disk quota exceeded" (EDQUOT),
// at the end of a line or of a JSON string (not a file named so).
var fullRE = regexp.MustCompile(`(?i):\s*(no space left on device|disk quota exceeded)\s*("|$)`)

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var re *Error
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// Run starts restic with the subcommand and its arguments, hands every
// stdout line to onStdout (if not nil), logs and keeps stderr, and waits.
// When ctx ends restic gets SIGINT, so that it removes its lock, and
// SIGKILL StopGrace later.
//
// restic is stopped the same way at its first report of a full
// repository (fullRE): restic retries a write that failed for a quota
// (0.18.1 for up to 15 minutes, holding the run and its ZFS snapshot all
// along), and it rarely succeeds; the run fails at once instead, with
// category storage. The typed methods (Backup, Forget, …) are
// built on it; use it directly for a subcommand they do not cover.
func (r *Restic) Run(ctx context.Context, sub []string, onStdout func(line []byte)) error {
	return r.run(ctx, sub, func(stdout io.Reader) {
		eachLine(stdout, func(line []byte) {
			if onStdout != nil {
				onStdout(line)
			}
		})
	})
}

// run is Run with restic's stdout handed to consume as it is, which must
// read it to the end.
func (r *Restic) run(ctx context.Context, sub []string, consume func(io.Reader)) error {
	return r.runStdin(ctx, sub, nil, consume)
}

// runStdin is run with stdin as restic's standard input (nil: none).
// restic gets the file itself, not a copy through bakc, and bakc's copy
// is closed once restic has started (or could not start), so that
// whoever writes the other end of a pipe sees EPIPE when restic is gone.
func (r *Restic) runStdin(ctx context.Context, sub []string, stdin *os.File, consume func(io.Reader)) error {
	if stdin != nil {
		defer stdin.Close()
	}
	argv := r.Argv(sub)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	r.prepare(cmd)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = StopGrace
	if r.KillAfter > 0 {
		cmd.WaitDelay = r.KillAfter
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &Error{Subcommand: sub[0], ExitCode: -1, Message: err.Error(), Err: err}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return &Error{Subcommand: sub[0], ExitCode: -1, Message: err.Error(), Err: err}
	}
	start := time.Now()
	if r.Log != nil {
		r.Log.Info("restic start", "subcommand", sub[0], "argv", argv)
	}
	if err := cmd.Start(); err != nil {
		return &Error{Subcommand: sub[0], ExitCode: -1, Message: err.Error(), Err: err}
	}
	if stdin != nil {
		stdin.Close()
	}

	tail := &stderrTail{}
	redact := newRedactor(r.Env)
	var full string // restic's first line saying the repository is full
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		consume(stdout)
		io.Copy(io.Discard, stdout) // whatever consume left
	}()
	go func() {
		defer wg.Done()
		eachLine(stderr, func(line []byte) {
			line = redact.line(ansiCSI.ReplaceAll(line, nil))
			tail.add(line)
			if r.Log != nil {
				r.Log.Warn("restic stderr", "subcommand", sub[0], "line", string(line))
			}
			if full == "" && fullRE.Match(line) {
				full = string(line)
				if r.Log != nil {
					r.Log.Error("the repository is full; restic is stopped instead of retrying", "subcommand", sub[0])
				}
				stop()
			}
		})
	}()
	wg.Wait()
	waitErr := cmd.Wait()

	code := exitCode(cmd.ProcessState)
	if r.Log != nil {
		r.Log.Info("restic end", "subcommand", sub[0], "exit_code", code, "seconds", time.Since(start).Seconds())
	}
	if waitErr == nil && code == 0 {
		return nil
	}
	text := tail.String()
	msg := message(text)
	if msg == "" && waitErr != nil {
		msg = redact.text(waitErr.Error())
	}
	e := &Error{Subcommand: sub[0], ExitCode: code, Stderr: text, Message: msg, Err: waitErr}
	if full != "" {
		e.Stopped = CategoryStorage
		e.Message = "the repository is full; restic was stopped at its first write that failed for it, rather than left to retry: " + oneLine(message(full))
	}
	if r.Advice != nil {
		if a := r.Advice(e); a != "" {
			e.Message += "; " + a
		}
	}
	return e
}

// exitCode is the process's exit code, 128+n for death by signal n (as a
// shell reports it), -1 if unknown.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// eachLine calls f for every line of rd (without the newline) until EOF.
func eachLine(rd io.Reader, f func([]byte)) {
	br := bufio.NewReaderSize(rd, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			f(bytes.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// stderrTail keeps the last stderrKeep bytes of stderr, in whole lines.
type stderrTail struct {
	mu    sync.Mutex
	lines []string
	size  int
}

// ansiCSI matches terminal control sequences restic writes to stderr
// even when it is not a terminal ("\x1b[2K" clears the line).
var ansiCSI = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

func (t *stderrTail) add(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, string(line))
	t.size += len(line) + 1
	for t.size > stderrKeep && len(t.lines) > 1 {
		t.size -= len(t.lines[0]) + 1
		t.lines = t.lines[1:]
	}
}

func (t *stderrTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

package runtime

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/holthome/bakc/runtime/restic"
)

// progressFPS is how many status lines per second restic prints in JSON
// mode for bakc: enough for a terminal and systemd's status line, and far
// fewer than restic's default of 60, which bakc would only parse and drop.
const progressFPS = 2

// notifyEvery bounds how often systemd's status line is updated.
const notifyEvery = time.Second

// progress shows how far a run is: the phase, and during restic backup
// the files, bytes, percentage and time left, on one line of the terminal
// (rewritten in place) and as the unit's status (sd_notify STATUS=), so
// that `systemctl status bakc-backup-<job>` shows it.
type progress struct {
	job      string
	out      io.Writer
	terminal bool
	notify   func(string) error

	mu         sync.Mutex
	lastNotify time.Time
	pending    string // a status line held back by the rate limit
	drawn      bool   // a progress line is on the terminal
}

func newProgress(o *Options, job string) *progress {
	return &progress{job: job, out: o.out(), terminal: o.Terminal, notify: o.Notify}
}

// phase announces a new phase: to systemd at once, and on the terminal
// it clears the progress line.
func (p *progress) phase(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.sendLocked(p.job+": "+text, true)
}

// status returns the callback for restic backup's status lines into repo.
func (p *progress) status(repo string) func(restic.Status) {
	return func(s restic.Status) {
		line := repo + ": " + formatStatus(s)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.terminal {
			fmt.Fprintf(p.out, "\r\x1b[2K%s", line)
			p.drawn = true
		}
		p.sendLocked(p.job+": backing up to "+line, false)
	}
}

// clear ends restic's progress: the terminal line goes, and systemd gets
// the last status line if the rate limit held it back.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	if p.pending != "" {
		p.sendLocked(p.pending, true)
	}
}

func (p *progress) clearLocked() {
	if p.drawn {
		fmt.Fprint(p.out, "\r\x1b[2K")
		p.drawn = false
	}
}

// sendLocked updates systemd's status line, at most every notifyEvery
// unless forced (a new phase).
func (p *progress) sendLocked(text string, force bool) {
	if p.notify == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.lastNotify) < notifyEvery {
		p.pending = text
		return
	}
	p.pending = ""
	p.lastNotify = now
	p.notify("STATUS=" + oneLine(text))
}

// formatStatus renders a status line: "42.0% · 1234/5000 files ·
// 1.2 GiB/3.0 GiB · 5m12s left". restic counts the totals while it
// reads, so early percentages can go back a little.
func formatStatus(s restic.Status) string {
	parts := []string{fmt.Sprintf("%.1f%%", s.PercentDone*100)}
	if s.TotalFiles > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d files", s.FilesDone, s.TotalFiles))
	}
	if s.TotalBytes > 0 {
		parts = append(parts, formatBytes(s.BytesDone)+"/"+formatBytes(s.TotalBytes))
	}
	if s.SecondsRemaining > 0 {
		parts = append(parts, (time.Duration(s.SecondsRemaining)*time.Second).String()+" left")
	}
	if s.ErrorCount > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", s.ErrorCount))
	}
	return strings.Join(parts, " · ")
}

// formatBytes is a size in binary units with one decimal ("1.2 GiB").
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

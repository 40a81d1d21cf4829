package restic

import (
	"encoding/json"
	"strings"
)

// restic's exit codes. 0.14 knows only 0, 1 and 3; 0.16 added 10 and 11,
// 0.17 added 12 and 130.
const (
	ExitOK            = 0   // success
	ExitFatal         = 1   // any fatal error (0.14: most of the others too)
	ExitGoRuntime     = 2   // a Go runtime error (a bug in restic)
	ExitPartial       = 3   // backup: snapshot written, some source files unreadable
	ExitNoRepository  = 10  // the repository does not exist
	ExitLocked        = 11  // the repository is locked by another process
	ExitWrongPassword = 12  // wrong password or no key found
	ExitInterrupted   = 130 // stopped by SIGINT/SIGTERM
)

// Category is what a failure was about, so that an alert can say whom to
// call: the network, the NAS's disks, the data's owner, the password's.
type Category string

// The categories of the error log and of docs/runtime.md.
const (
	// CategoryNetwork means the repository's server cannot be reached.
	CategoryNetwork Category = "network"
	// CategoryStorage means the repository is missing, not mounted, full or read-only.
	CategoryStorage Category = "storage"
	// CategoryPermission means access denied to the repository or a source file.
	CategoryPermission Category = "permission"
	// CategoryAuth means wrong password, unreadable password file, rejected credentials.
	CategoryAuth Category = "auth"
	// CategoryLock means another process holds the repository's lock, or the job's.
	CategoryLock Category = "lock"
	// CategoryCorruption means restic found damaged data in the repository.
	CategoryCorruption Category = "corruption"
	// CategorySource means what was to be backed up is missing or partly unreadable
	// (a partial backup), or a hook preparing it failed.
	CategorySource Category = "source"
	// CategorySnapshot means taking, exposing or releasing the ZFS snapshot failed.
	CategorySnapshot Category = "snapshot"
	// CategoryResource means the run was interrupted (SIGTERM: the unit's timeout or a
	// shutdown) or ran out of memory, time or file handles.
	CategoryResource Category = "resource"
	// CategoryInterrupted means a run was killed before it could report
	// (SIGKILL: the OOM killer or the unit's stop timeout; a power loss or
	// crash): the next run of the task found its start without an end and
	// reports it. restic never gives it; bakc does.
	CategoryInterrupted Category = "interrupted"
	// CategoryUnknown means none of the above could be recognised.
	CategoryUnknown Category = "unknown"
)

// byExitCode are the exit codes that say by themselves what happened.
var byExitCode = map[int]Category{
	ExitPartial:       CategorySource,
	ExitNoRepository:  CategoryStorage,
	ExitLocked:        CategoryLock,
	ExitWrongPassword: CategoryAuth,
	ExitInterrupted:   CategoryResource,
	128 + 9:           CategoryResource, // SIGKILL: out of memory, or the stop timeout
	128 + 15:          CategoryResource, // SIGTERM not handled by restic
}

// stderrPatterns recognise a failure from restic's stderr when the exit
// code does not say (restic 0.14 exits 1 for nearly everything). They are
// tried in order, lower-cased; the first match wins, so the more specific
// come first: a lock held by another process before anything else, an
// unreachable server before the "is there a repository" hint restic 0.14
// prints for it too.
var stderrPatterns = []struct {
	substr   string
	category Category
}{
	// auth
	{"wrong password or no key found", CategoryAuth},
	{"resolving password failed", CategoryAuth},
	{"invalid credentials", CategoryAuth},
	{"signaturedoesnotmatch", CategoryAuth},
	{"invalidaccesskeyid", CategoryAuth},
	{"unauthorized", CategoryAuth},
	// ssh, for an sftp repository (restic passes its stderr on, each line
	// after "subprocess ssh: "): a server whose host key is not the one
	// declared, or that is not declared at all, is as untrusted as a
	// wrong password; so is a key the server refuses.
	{"permission denied (publickey", CategoryAuth},
	{"host key verification failed", CategoryAuth},
	{"remote host identification has changed", CategoryAuth},
	{"host key is known for", CategoryAuth}, // "No ED25519 host key is known for …"
	// lock
	{"repository is already locked", CategoryLock},
	// network
	{"connection refused", CategoryNetwork},
	{"connection reset", CategoryNetwork},
	{"no route to host", CategoryNetwork},
	{"network is unreachable", CategoryNetwork},
	{"i/o timeout", CategoryNetwork},
	{"temporary failure in name resolution", CategoryNetwork},
	{"no such host", CategoryNetwork},
	{"tls handshake", CategoryNetwork},
	{"unable to start the sftp session", CategoryNetwork},
	{"ssh command exited", CategoryNetwork},
	{"connection closed", CategoryNetwork},
	// restic's own deadline for reaching a backend (0.18: a B2 or S3
	// server that never answers gives up with it after its retries).
	// bakc's own cancellation is "context canceled", below.
	{"context deadline exceeded", CategoryNetwork},
	{"connection timed out", CategoryNetwork},
	{"could not resolve hostname", CategoryNetwork},
	// storage: no repository, full, read-only
	{"repository does not exist", CategoryStorage},
	{"is there a repository at the following location", CategoryStorage},
	{"unable to open config file", CategoryStorage},
	{"no space left on device", CategoryStorage},
	{"disk quota exceeded", CategoryStorage},
	{"read-only file system", CategoryStorage},
	// corruption
	{"ciphertext verification failed", CategoryCorruption},
	{"nonce is invalid", CategoryCorruption},
	{"decrypting blob", CategoryCorruption},
	{"repository contains errors", CategoryCorruption},
	{"check failed", CategoryCorruption},
	{"hash does not match", CategoryCorruption},
	{"invalid data returned", CategoryCorruption},
	{"wrong data returned", CategoryCorruption},
	{"is damaged", CategoryCorruption},
	// permission
	{"permission denied", CategoryPermission},
	{"operation not permitted", CategoryPermission},
	{"access denied", CategoryPermission},
	{"accessdenied", CategoryPermission},
	// source
	{"does not exist, skipping", CategorySource},
	{"all source directories/files do not exist", CategorySource},
	{"all target directories/files do not exist", CategorySource},
	// resource
	{"cannot allocate memory", CategoryResource},
	{"out of memory", CategoryResource},
	{"too many open files", CategoryResource},
	{"signal interrupt received", CategoryResource},
	{"context canceled", CategoryResource},
}

// Classify gives the category of a failed restic call from its exit code
// first and its stderr second: restic 0.18's codes 3, 10, 11, 12 and 130
// are unambiguous, but 0.14 returns 1 for most of the same failures, so
// its stderr must tell them apart.
func Classify(exitCode int, stderr string) Category {
	if c, ok := byExitCode[exitCode]; ok {
		return c
	}
	s := strings.ToLower(stderr)
	for _, p := range stderrPatterns {
		if strings.Contains(s, p.substr) {
			return p.category
		}
	}
	return CategoryUnknown
}

// sshPrefix starts every line restic passes on from the ssh of an sftp
// repository.
const sshPrefix = "subprocess ssh: "

// message picks the line of restic's stderr that best says what went
// wrong: the exit_error message of restic ≥ 0.17 in --json mode, else the
// last "Fatal:" line, else the first line a stderr pattern recognises
// (restic 0.14's lock message comes before its hints), else the last
// non-empty line. A lock message keeps the lines restic prints after it
// about the lock (its age, its storage ID, the unlock advice): they say
// whether the lock is stale and what to do. restic's own words for a
// failed sftp connection say only "unable to start the sftp session …
// EOF": the last line of ssh's that a pattern recognises ("Host key
// verification failed.") goes in front of them.
func message(stderr string) string {
	msg, ssh := resticMessage(stderr), ""
	for _, line := range strings.Split(stderr, "\n") {
		if l, ok := strings.CutPrefix(strings.TrimSpace(line), sshPrefix); ok && Classify(ExitFatal, l) != CategoryUnknown {
			ssh = strings.TrimSpace(l)
		}
	}
	if ssh == "" {
		return msg
	}
	return "ssh: " + ssh + " — " + msg
}

func resticMessage(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var fatal, known, last string
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "{") {
			var m struct {
				MessageType string `json:"message_type"`
				Message     string `json:"message"`
				Error       struct {
					Message string `json:"message"`
				} `json:"error"`
				Item string `json:"item"`
			}
			if json.Unmarshal([]byte(line), &m) == nil {
				switch m.MessageType {
				case "exit_error":
					return oneLine(m.Message)
				case "error":
					line = strings.TrimSpace(m.Item + ": " + m.Error.Message)
				}
			}
		}
		if strings.HasPrefix(line, "Fatal:") {
			fatal = line
		}
		if known == "" && Classify(ExitFatal, line) != CategoryUnknown {
			known = line
			if Classify(ExitFatal, line) == CategoryLock {
				known = strings.Join(append([]string{line}, lockDetails(lines[i+1:])...), "; ")
			}
		}
		last = line
	}
	switch {
	case fatal != "":
		return fatal
	case known != "":
		return known
	}
	return last
}

// lockDetailPrefixes start the lines restic (0.14 to 0.18) prints after
// "repository is already locked …".
var lockDetailPrefixes = []string{"lock was created at", "storage ID", "the `unlock"}

// lockDetails are the lines about a lock that follow its message.
func lockDetails(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		known := false
		for _, p := range lockDetailPrefixes {
			known = known || strings.HasPrefix(l, p)
		}
		if !known {
			break
		}
		out = append(out, l)
	}
	return out
}

// oneLine joins a multi-line message with "; " so that it fits a log line.
func oneLine(s string) string {
	var parts []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}

package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// sshProgram is the ssh restic starts for an sftp repository, looked up
// in PATH (the unit's: NixOS's backup.nix adds openssh to it).
const sshProgram = "ssh"

// resticOptions are the extended options of every restic call for repo:
// the run's own (Options.ResticOptions) and, for an sftp repository with
// an ssh block, the sftp.command that starts ssh with exactly the
// declared key and host keys (plan.SSH.Command). Options that already set
// sftp.command or sftp.args take over from bakc's: a setup of one's own,
// on one's own responsibility.
func resticOptions(repo *plan.Repository, o *Options) []string {
	opts := slices.Clone(o.ResticOptions)
	if repo.Kind != plan.KindSFTP || repo.SSH == nil || ownSFTPCommand(o.ResticOptions) {
		return opts
	}
	cmd, err := restic.SFTPCommand(repo.SSH.Command(sshProgram))
	if err != nil {
		return opts // checkSSH reports it
	}
	return append(opts, restic.SFTPCommandOption+"="+cmd)
}

func ownSFTPCommand(opts []string) bool {
	return slices.ContainsFunc(opts, func(o string) bool {
		return strings.HasPrefix(o, restic.SFTPCommandOption+"=") || strings.HasPrefix(o, "sftp.args=")
	})
}

// checkSSH is an sftp repository's preflight: ssh is there, the key can
// be read and ssh will accept its mode, the installed known_hosts file
// has every host key line the plan declares, and ssh, started exactly as
// restic will start it, connects, logs in and opens the sftp subsystem.
// Each is a failure restic would report later and less clearly: it says
// only "unable to start the sftp session", and passes ssh's own words on
// only when ssh wrote them before restic gave up (seen with both 0.14 and
// 0.18.1: "Permission denied (publickey)" lost in one run of two).
func checkSSH(ctx context.Context, repo *plan.Repository, o *Options, cred *syscall.Credential) (restic.Category, error) {
	s := repo.SSH
	if repo.Kind != plan.KindSFTP || s == nil || ownSFTPCommand(o.ResticOptions) {
		return "", nil
	}
	if _, err := restic.SFTPCommand(s.Command(sshProgram)); err != nil {
		return restic.CategoryUnknown, err
	}
	if _, err := exec.LookPath(sshProgram); err != nil {
		return restic.CategoryUnknown, fmt.Errorf(
			"ssh is not on the PATH of the run (%s), and restic needs it for the sftp repository: install the OpenSSH client (openssh-client); on NixOS, backup.nix adds pkgs.openssh to the service's path",
			os.Getenv("PATH"))
	}
	uid := os.Getuid()
	if cred != nil {
		uid = int(cred.Uid)
	}
	if err := checkSecretFile("ssh identity file", s.IdentityFile); err != nil {
		return restic.CategoryAuth, err
	}
	// ssh refuses a private key of its own user that others may read
	// ("UNPROTECTED PRIVATE KEY FILE"); one of another owner (root's,
	// read through CAP_DAC_READ_SEARCH) it does not check.
	if fi, err := os.Stat(s.IdentityFile); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && fi.Mode().Perm()&0o077 != 0 {
			return restic.CategoryAuth, fmt.Errorf(
				"ssh identity file %s belongs to the backup user and others may read it (mode %04o); ssh refuses such a key: chmod 600 it",
				s.IdentityFile, fi.Mode().Perm())
		}
	}
	data, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		return restic.CategoryAuth, fmt.Errorf("known_hosts file: %w", err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, l := range s.KnownHosts {
		if !have[strings.TrimSpace(l)] {
			return restic.CategoryAuth, fmt.Errorf(
				"the known_hosts file %s lacks the host key %q the plan declares for repository %s: install the known_hosts file bakc wrote with the plan (bakc units), or rebuild the NixOS configuration",
				s.KnownHostsFile, l, repo.Name)
		}
	}
	return probeSSH(ctx, s.Command(sshProgram), cred)
}

// probeSSH runs the sftp ssh command once, as restic's user, with
// nothing on its stdin: ssh connects, checks the host key, logs in and
// starts the sftp subsystem, which ends at once. A failure is classified
// by ssh's own last words (a host key or a refused key is auth, anything
// else network).
func probeSSH(ctx context.Context, argv []string, cred *syscall.Credential) (restic.Category, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, AmbientCaps: []uintptr{unix.CAP_DAC_READ_SEARCH}}
	}
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The caller says which bound (checkRepository).
			return restic.CategoryNetwork, &sshTimeout{stderr: oneLine(stderr.String())}
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		why := strings.TrimSpace(lines[len(lines)-1])
		cat := restic.CategoryNetwork
		for _, l := range lines {
			if c := restic.Classify(restic.ExitFatal, l); c != restic.CategoryUnknown {
				why, cat = strings.TrimSpace(l), c
			}
		}
		if why == "" {
			why = err.Error()
		}
		return cat, fmt.Errorf("ssh to the sftp repository failed: %s%s", why, sshHint(why))
	}
	return "", nil
}

// sshTimeout is an ssh probe stopped at its deadline: ssh had not logged
// in and opened the sftp subsystem.
type sshTimeout struct{ stderr string }

func (e *sshTimeout) Error() string {
	return "ssh did not log in and open the sftp subsystem in time (ssh said: " + e.stderr + ")"
}

// sshHint says what to do about what ssh said.
func sshHint(why string) string {
	l := strings.ToLower(why)
	switch {
	case strings.Contains(l, "host key"):
		return " (the server's host key is not one the repository's ssh block declares: check the server's key out of band, for example with ssh-keygen -lf on the server, then fix known_hosts; a server that was reinstalled has a new key)"
	case strings.Contains(l, "permission denied"):
		return " (the server refused the identity file: is its public key in the authorized_keys of that user on the server?)"
	}
	return ""
}

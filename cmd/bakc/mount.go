package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

type mountOptions struct {
	nodeOptions
	allHosts bool
}

// fuseConf is fusermount's configuration: a user other than root may
// mount with allow_other only when it says user_allow_other.
var fuseConf = "/etc/fuse.conf"

const mountLong = `Mount a repository of the installed plan at DIR with restic mount (FUSE),
to browse this node's snapshots as folders: DIR/snapshots/<time>/…,
DIR/ids/<id>/…, DIR/tags/job:<job>/…, each under the original paths. It
runs until Ctrl-C (or SIGTERM), then restic unmounts it.

restic runs as the units run it (see "bakc restic --help"): as root, as
the backup user, who owns the repository. For root (and the node's other
users) to see the files, restic mounts with allow_other, which fusermount
allows a user other than root only when /etc/fuse.conf says
user_allow_other (on NixOS: programs.fuse.userAllowOther = true). restic
then has the kernel check each file's recorded owner and mode
(default_permissions): a user reads in the snapshots what they could read
on the node. bakc makes DIR (given to the backup user, which fusermount
requires) and checks that the backup user can reach it: not below /root,
for example; /mnt/restic is a good place. Only this node's snapshots are
shown, unless --all-hosts.

Exit codes:
  restic's own exit code, when restic ran
  1  the plan cannot be read, names no such repository, the repository's
     preflight failed, the backup user cannot reach DIR, or FUSE does not
     allow the mount (user_allow_other)
  2  usage error`

func newMountCmd(e *env) *cobra.Command {
	var opts mountOptions
	cmd := &cobra.Command{
		Use:               "mount REPO DIR",
		Short:             "Browse a repository's snapshots as folders (restic mount), as the backup user",
		Long:              mountLong,
		Example:           `  bakc mount nas-primary /mnt/restic`,
		ValidArgsFunction: completeFirstRepository,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError("mount needs a repository of the plan and a folder: bakc mount REPO DIR")
			}
			return runMount(e, opts, args[0], args[1])
		},
	}
	addNodeFlags(cmd, &opts.nodeOptions)
	cmd.Flags().BoolVar(&opts.allHosts, "all-hosts", false, "show every host's snapshots, not only this node's")
	return cmd
}

func runMount(e *env, opts mountOptions, repo, dir string) error {
	p, err := opts.readPlan()
	if err != nil {
		return err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	rs, err := resticForRepository(p, opts.nodeOptions, repo, nil)
	if err != nil {
		return err
	}
	if err := prepareMountpoint(dir, rs.Credential); err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	args := []string{"mount"}
	if rs.Credential != nil {
		if !fuseAllowsOther() {
			return &exitError{code: exitConfig, err: fmt.Errorf("restic mounts as the backup user %s, and only root may read the mount then if %s says user_allow_other, which it does not: add that line (on NixOS: programs.fuse.userAllowOther = true), or browse with bakc restic %s -- ls / find", p.User.Name, fuseConf, repo)}
		}
		args = append(args, "--allow-other")
	}
	if !opts.allHosts {
		args = append(args, "--host", p.Node.Name)
	}
	args = append(args, dir)
	fmt.Fprintf(e.stderr, "bakc: mounting repository %s at %s; Ctrl-C unmounts it\n", repo, dir)
	return passThrough(e, rs.Command(context.Background(), args))
}

// prepareMountpoint makes dir for restic's user: fusermount, run by
// that user, wants to be able to write to the mountpoint and to reach
// it through every folder above it (the user's ambient capabilities do
// not pass through the set-uid fusermount).
func prepareMountpoint(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return os.MkdirAll(dir, 0o700)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			perm := fi.Mode().Perm()
			if perm&0o001 == 0 && !(st.Gid == cred.Gid && perm&0o010 != 0) && !(st.Uid == cred.Uid && perm&0o100 != 0) {
				return fmt.Errorf("restic mounts as the backup user (uid %d), which cannot enter %s (mode %04o, owner %d:%d), so fusermount cannot reach %s: mount it elsewhere, such as /mnt/restic", cred.Uid, d, perm, st.Uid, st.Gid, dir)
			}
		}
		if d == "/" {
			break
		}
	}
	// Folders made above dir stay open to the backup user.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	return os.Chown(dir, int(cred.Uid), int(cred.Gid))
}

// fuseAllowsOther reports whether fuse.conf has user_allow_other.
func fuseAllowsOther() bool {
	f, err := os.Open(fuseConf)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "user_allow_other" {
			return true
		}
	}
	return false
}

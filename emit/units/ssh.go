package units

import (
	"fmt"
	"slices"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// KnownHosts is the known_hosts file the units install for the node's
// sftp repositories (plan.Paths.KnownHosts): the host key lines they
// declare inline. Public keys: fine in the Nix store and in the plan.
type KnownHosts struct {
	// Path is where the file goes, next to the plan.
	Path string
	// Lines are the known_hosts lines, sorted, without duplicates.
	Lines []string
}

// buildKnownHosts collects the inline host keys of every repository;
// nil when there are none.
func buildKnownHosts(p *plan.Plan) *KnownHosts {
	var lines []string
	for _, r := range p.Repositories {
		if r.SSH != nil && r.SSH.KnownHostsFile == p.Paths.KnownHosts {
			lines = append(lines, r.SSH.KnownHosts...)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	slices.Sort(lines)
	return &KnownHosts{Path: p.Paths.KnownHosts, Lines: slices.Compact(lines)}
}

// runsSSH says a task starts ssh: restic reaches one of its
// repositories over sftp. A plain host has ssh in PATH (openssh-client);
// NixOS adds openssh to the service's path, which has none by default.
func runsSSH(t task) bool {
	return slices.ContainsFunc(t.repos, func(r *plan.Repository) bool { return r.Kind == plan.KindSFTP })
}

// checkSSH refuses what cannot be written into the known_hosts file as
// itself.
func (c *checker) checkSSH(field string, p *plan.Plan, s *plan.SSH) {
	c.check(field+": ssh.known_hosts_file", checkAbsolute(s.KnownHostsFile))
	for _, l := range s.KnownHosts {
		c.check(field+": ssh.known_hosts", escape.CheckSystemdLine(l))
	}
	if len(s.KnownHosts) > 0 && (p.Paths.KnownHosts == "" || s.KnownHostsFile != p.Paths.KnownHosts) {
		c.check(field+": ssh.known_hosts_file", fmt.Errorf("%q is not paths.known_hosts %q, where the units install the inline host keys", s.KnownHostsFile, p.Paths.KnownHosts))
	}
	if p.Paths.KnownHosts != "" {
		c.check("paths.known_hosts", checkAbsolute(p.Paths.KnownHosts))
		if p.Paths.KnownHosts == "/" {
			c.check("paths.known_hosts", fmt.Errorf("is not a file"))
		}
	}
}

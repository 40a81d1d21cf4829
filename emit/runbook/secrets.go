package runbook

import (
	"path"
	"slices"
	"strconv"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// secretView is one secret file the node's services read: where it is,
// what it holds, and, for a sops secret, the commands that put it there
// on a host without sops-nix.
type secretView struct {
	Path string
	// Holds says whose secret it is ("the password of nas").
	Holds string
	Sops  *plan.Sops
	// Install is, for a sops secret, the shell commands (run as root in
	// the fleet's folder) that decrypt it to Path with the backup user as
	// owner and mode 0400; for a file of the node's own, those that write
	// what is pasted on their standard input there, the same way.
	Install string
}

// secretViews lists every secret file of the plan's repositories, in
// the order of the repositories, once per path.
func secretViews(p *plan.Plan) []secretView {
	sops := map[string]*plan.Sops{}
	for _, s := range p.Secrets {
		sops[s.Path] = s.Sops
	}
	var out []secretView
	seen := map[string]bool{}
	add := func(file, holds string) {
		if file == "" || seen[file] {
			return
		}
		seen[file] = true
		v := secretView{Path: file, Holds: holds, Sops: sops[file]}
		if v.Sops != nil {
			v.Install = sopsInstall(p, file, v.Sops)
		} else {
			v.Install = pasteInstall(p, file)
		}
		out = append(out, v)
	}
	for _, r := range p.Repositories {
		add(r.PasswordFile, "the password of "+strconv.Quote(r.Name))
		add(r.EnvironmentFile, "the environment (credentials) of "+strconv.Quote(r.Name))
		if r.SSH != nil {
			add(r.SSH.IdentityFile, "the ssh key of "+strconv.Quote(r.Name))
		}
	}
	return out
}

// sopsInstall decrypts a sops secret to file as sops-nix would: owned by
// the backup user, mode 0400, written with umask 077 so that it is never
// readable by others, not even for a moment.
func sopsInstall(p *plan.Plan, file string, s *plan.Sops) string {
	decrypt := "sops decrypt"
	if s.Key != "" {
		decrypt += " --extract " + escape.ShellQuote(plan.SopsIndex(s.Key))
	}
	decrypt += " " + escape.ShellQuote(s.File)
	owner := escape.ShellQuote(p.User.Name + ":" + p.User.Group)
	q := escape.ShellQuote(file)
	return "install -d -m 0751 " + escape.ShellQuote(path.Dir(file)) + "\n" +
		"(umask 077 && " + decrypt + " > " + q + ")\n" +
		"chown " + owner + " " + q + " && chmod " + plan.SecretMode + " " + q + "\n"
}

// pasteInstall writes a secret of the node's own from the standard input
// (pasted, then Ctrl-D) to file, as sopsInstall does: umask 077, then the
// backup user as owner and mode 0400. Its folder is made with mkdir -p,
// which leaves the mode of a folder that exists (it may be /etc) alone.
func pasteInstall(p *plan.Plan, file string) string {
	owner := escape.ShellQuote(p.User.Name + ":" + p.User.Group)
	q := escape.ShellQuote(file)
	return "mkdir -p " + escape.ShellQuote(path.Dir(file)) + "\n" +
		"(umask 077 && cat > " + q + ")\n" +
		"chown " + owner + " " + q + " && chmod " + plan.SecretMode + " " + q + "\n"
}

// sopsFiles are the distinct sops files of the plan's secrets, sorted:
// each is re-encrypted for a new node's key.
func sopsFiles(p *plan.Plan) []string {
	var out []string
	for _, s := range p.Secrets {
		if s.Sops != nil && !slices.Contains(out, s.Sops.File) {
			out = append(out, s.Sops.File)
		}
	}
	slices.Sort(out)
	return out
}

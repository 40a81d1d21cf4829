package compiler

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ssh"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// An sftp repository is reached by restic's ssh, which runs as the backup
// user: on NixOS and with the sysusers line bakc writes, its home is
// /var/empty, with no key, no known_hosts and no ~/.ssh/config, and the
// units give it no agent. So whatever ssh needs is declared in the
// repository's ssh block, and the runtime starts ssh with exactly that and
// nothing else (plan.SSH.Command): a repository that could never connect is
// a compile error here, not a failed backup at 3 a.m.

// knownHostsName is the file, next to the plan, that holds the host keys
// the node's repositories give inline.
const knownHostsName = "known_hosts"

// sshPathRE is a path bakc hands to ssh as is: ssh expands % tokens, ~
// and ${VAR} in IdentityFile and UserKnownHostsFile, and splits
// UserKnownHostsFile at spaces, so none of those may be in it.
var sshPathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@,:=-]*$`)

// sshHostRE and sshUserRE are the host and user bakc gives ssh: a name
// or an address, and a login name, without anything ssh or a shell
// could read as an option or an expansion.
var (
	sshHostRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._:-]*$`)
	sshUserRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._@-]*$`)
)

// lowerSSH checks the ssh block of a repository against its kind and
// URL and puts it in the plan. KnownHostsFile of inline keys is set by
// placeKnownHosts, which knows the node's plan path.
func (sc *nodeScope) lowerSSH(r *schema.Repository, out *plan.Repository) hcl.Diagnostics {
	if out.Kind != plan.KindSFTP {
		if r.SSH != nil && out.Kind != "" {
			return hcl.Diagnostics{errorAt(r.SSH.DeclRange, "ssh block on a repository that is not sftp",
				"The repository %q is of kind %s, which restic does not reach with ssh, so its ssh block would be ignored. Remove the block, or give the repository an sftp: URL.", r.Name, out.Kind)}
		}
		return nil
	}
	user, host, port, err := parseSFTPURL(out.URL)
	if err != "" {
		return hcl.Diagnostics{errorAt(r.URL.Range, "Invalid sftp URL",
			"%s. Write the repository as sftp:user@host:/path or sftp://user@host:port/path, as restic reads them.", err)}
	}
	if r.SSH == nil {
		return hcl.Diagnostics{errorAt(r.URL.Range, "Missing ssh settings",
			"restic reaches the repository %q with ssh, run as the backup user, whose home has no key and no known_hosts, and bakc starts that ssh without any configuration file. Add an ssh block to the repository with identity_file = \"/run/secrets/…\" (the private key, outside the Nix store) and known_hosts = [\"%s ssh-ed25519 AAAA…\"] (the line ssh-keyscan -t ed25519%s %s prints; check the key out of band), or known_hosts_file = \"/path\" instead of known_hosts.",
			r.Name, knownHostsHost(host, port), portFlag(port), host)}
	}
	b := r.SSH
	s := &plan.SSH{User: user, Host: host, Port: port}
	var diags hcl.Diagnostics
	if b.IdentitySops != nil {
		p, d := sc.lowerSecret(nil, b.IdentitySops, r.Name, plan.SecretSSHIdentity, "ssh identity file")
		diags = append(diags, d...)
		s.IdentityFile = p
	} else if b.IdentityFile == nil {
		login := "the user the URL names"
		if user != "" {
			login = strconv.Quote(user)
		}
		diags = append(diags, errorAt(b.DeclRange, "Missing identity file",
			"The ssh block has no identity_file: the backup user has no key of its own to log in to %s with. Add identity_file = \"/run/secrets/…\", the private key whose public half is in the server's authorized_keys for %s.", host, login))
	} else if d := checkSSHFile(b.IdentityFile, "ssh identity file", true); d != nil {
		diags = append(diags, d...)
	} else {
		s.IdentityFile = b.IdentityFile.Value
	}
	switch {
	case b.KnownHosts == nil && b.KnownHostsFile == nil:
		diags = append(diags, errorAt(b.DeclRange, "Missing host keys",
			"The ssh block gives no host key for %s, and ssh refuses a server it does not know (bakc never lets it accept one on first use). Add known_hosts = [\"%s ssh-ed25519 AAAA…\"] (what ssh-keyscan%s %s prints; check it out of band), or known_hosts_file = \"/path\".",
			host, knownHostsHost(host, port), portFlag(port), host))
	case b.KnownHosts != nil && b.KnownHostsFile != nil:
		diags = append(diags, errorAt(b.KnownHostsFile.Range, "Two sources of host keys",
			"The ssh block gives both known_hosts and known_hosts_file; ssh would check only one of them. Keep one."))
	case b.KnownHostsFile != nil:
		if d := checkSSHFile(b.KnownHostsFile, "known_hosts file", false); d != nil {
			diags = append(diags, d...)
		} else {
			s.KnownHostsFile = b.KnownHostsFile.Value
		}
	default:
		lines, d := checkKnownHosts(b.KnownHosts, host, port)
		diags = append(diags, d...)
		s.KnownHosts = lines
	}
	if !diags.HasErrors() {
		out.SSH = s
	}
	return diags
}

// placeKnownHosts gives the node's inline host keys their file, next to
// the plan, where the units install them.
func placeKnownHosts(p *plan.Plan) {
	for i := range p.Repositories {
		if s := p.Repositories[i].SSH; s != nil && len(s.KnownHosts) > 0 {
			p.Paths.KnownHosts = path.Join(path.Dir(p.Paths.Plan), knownHostsName)
			s.KnownHostsFile = p.Paths.KnownHosts
		}
	}
}

// checkSSHFile checks a path ssh is given: absolute, clean, nothing ssh
// expands or splits, and for a secret, outside the Nix store.
func checkSSHFile(t *schema.Text, what string, secret bool) hcl.Diagnostics {
	var d hcl.Diagnostics
	if secret {
		d = checkSecretFile(t, what)
	} else {
		d = checkAbsPath(t, what)
	}
	if d.HasErrors() {
		return d
	}
	if !sshPathRE.MatchString(t.Value) {
		return hcl.Diagnostics{errorAt(t.Range, "Path ssh would misread",
			"The %s %q has a character ssh reads specially in a file name (it expands %%, ~ and ${…}, and splits at spaces) or that bakc does not pass to ssh. Use a path of letters, digits and . _ / + @ , : = -.", what, t.Value)}
	}
	return nil
}

// checkKnownHosts parses the inline known_hosts lines as ssh reads them
// and makes sure one that is not @revoked names the repository's host.
func checkKnownHosts(l *schema.TextList, host, port string) ([]string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var lines []string
	names := false
	want := knownHostsHost(host, port)
	for _, it := range l.Items {
		line := strings.TrimSpace(it.Value)
		marker, hosts, _, _, rest, err := ssh.ParseKnownHosts([]byte(line))
		if err != nil || line == "" || strings.HasPrefix(line, "#") || len(strings.TrimSpace(string(rest))) > 0 {
			diags = append(diags, errorAt(it.Range, "Invalid known_hosts line",
				"%q is not a known_hosts line. Write one line as ssh-keyscan prints it: the host (%s), the key type and the base64 key, such as \"%s ssh-ed25519 AAAAC3Nza…\".", it.Value, want, want))
			continue
		}
		lines = append(lines, line)
		if marker != "revoked" && hostsName(hosts, want) {
			names = true
		}
	}
	if len(l.Items) == 0 {
		diags = append(diags, errorAt(l.Range, "Missing host keys",
			"known_hosts is empty, and ssh refuses a server it does not know. Add the line ssh-keyscan%s %s prints (check it out of band).", portFlag(port), host))
	} else if !diags.HasErrors() && !names {
		diags = append(diags, errorAt(l.Range, "Host keys for another host",
			"No known_hosts line names %s, the host ssh connects to for this repository, so ssh would refuse the server. Lines name a host first: for a port other than 22 as [host]:port; hashed names (|1|…) work too. Fix the names, or the URL.", want))
	}
	return lines, diags
}

// knownHostsHost is how known_hosts names host: as itself on port 22,
// as [host]:port on another.
func knownHostsHost(host, port string) string {
	if port == "" || port == "22" {
		return host
	}
	return "[" + host + "]:" + port
}

func portFlag(port string) string {
	if port == "" || port == "22" {
		return ""
	}
	return " -p " + port
}

// hostsName reports whether a known_hosts line's host patterns name
// host (as knownHostsHost writes it) the way OpenSSH's match_hostname
// does: any matching negated pattern (!pat) excludes the line, else one
// matching pattern is enough; patterns take * and ?, and compare without
// case; a hashed name |1|salt|hash matches when HMAC-SHA1(salt, host) is
// hash.
func hostsName(patterns []string, host string) bool {
	found := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var m bool
		if strings.HasPrefix(p, "|1|") {
			// ssh looks names up in lower case.
			m = hashedHostMatch(p, strings.ToLower(host))
		} else {
			m = wildcardMatch(strings.ToLower(p), strings.ToLower(host))
		}
		if m && neg {
			return false
		}
		found = found || m
	}
	return found
}

// wildcardMatch matches s against a pattern with * (any run) and ?
// (any one byte), nothing else special.
func wildcardMatch(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if wildcardMatch(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}

func hashedHostMatch(p, host string) bool {
	parts := strings.Split(p, "|") // "", "1", salt, hash
	if len(parts) != 4 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return hmac.Equal(mac.Sum(nil), want)
}

// parseSFTPURL reads an sftp repository URL as restic does
// (internal/backend/sftp's ParseConfig): "sftp://user@host:port/dir"
// or "sftp:user@host:dir". err is a sentence, empty when it is fine.
func parseSFTPURL(v string) (user, host, port, err string) {
	if strings.HasPrefix(v, "sftp://") {
		u, perr := url.Parse(v)
		if perr != nil {
			return "", "", "", "restic cannot read " + strconv.Quote(v) + " as a URL"
		}
		if u.User != nil {
			user = u.User.Username()
		}
		host, port = u.Hostname(), u.Port()
		if len(u.Path) < 2 {
			return "", "", "", strconv.Quote(v) + " names no folder on the server"
		}
	} else {
		rest := strings.TrimPrefix(v, "sftp:")
		hostPart, dir, ok := strings.Cut(rest, ":")
		if !ok || dir == "" {
			return "", "", "", strconv.Quote(v) + " names no folder on the server (restic splits sftp:user@host:/path at the first colon after the host)"
		}
		host = hostPart
		if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
			user, host = hostPart[:i], hostPart[i+1:]
		}
	}
	switch {
	case !sshHostRE.MatchString(host) && !isIPv6(host):
		return "", "", "", "the host " + strconv.Quote(host) + " is not a host name or address bakc passes to ssh"
	case user != "" && !sshUserRE.MatchString(user):
		return "", "", "", "the user " + strconv.Quote(user) + " is not a login name bakc passes to ssh"
	case port != "":
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			return "", "", "", "the port " + strconv.Quote(port) + " is not a port number"
		}
	}
	return user, host, port, ""
}

// isIPv6 reports an IPv6 address without a zone, which ssh takes as the
// host of user@host (sftpAddressProblem made sure the URL bracketed it).
func isIPv6(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Is6() && ip.Zone() == ""
}

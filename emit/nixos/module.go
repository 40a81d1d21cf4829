// Package nixos renders a node's plan as backup.nix: a NixOS module that
// sets only standard NixOS options — the plan under environment.etc, the
// backup user and group with their fixed ids, fileSystems for NFS
// repositories, systemd.tmpfiles.rules for the runtime's folders, and
// systemd.services and systemd.timers built from the same units
// (package units) as the plain unit files, key for key.
//
// The module takes bakc from pkgs.bakc, which the flake's overlay (or
// its NixOS module) provides, and says so plainly when it is missing.
// Output is deterministic and printed the way nixfmt prints Nix.
package nixos

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/runbook"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/templates"
)

// MissingBakc is the message of the module's throw when pkgs.bakc does
// not exist; tests look for it.
const MissingBakc = "bakc: pkgs.bakc is missing. Import bakc's NixOS module (inputs.bakc.nixosModules.default), or add its overlay (inputs.bakc.overlays.default) to nixpkgs.overlays."

// etcPrefix is where environment.etc puts its files.
const etcPrefix = "/etc/"

// planStoreName names the plan's file in the Nix store. NixOS would name
// it after the path ("etc-" and the path under /etc with "-" for "/"),
// and a path holding a character a store name cannot hold (a space, @, :,
// ', %…) would then make nixos-rebuild fail; a name of our own always
// works, whatever the path.
const planStoreName = "bakc-plan.json"

// runbookStoreName names the runbook's file in the Nix store, beside the
// plan.
const runbookStoreName = "bakc-runbook.md"

// knownHostsStoreName names the sftp repositories' known_hosts file in
// the Nix store, for the same reason: it lies beside the plan.
const knownHostsStoreName = "bakc-known_hosts"

// Render returns backup.nix for the plan.
func Render(p *plan.Plan) ([]byte, error) {
	set, err := units.Build(p)
	if err != nil {
		return nil, err
	}
	if err := plan.CheckPlacement(plan.PlacePlan, p.Paths.Plan); err != nil {
		return nil, fmt.Errorf("paths.plan: %w", err)
	}
	etcName := strings.TrimPrefix(p.Paths.Plan, etcPrefix)
	planJSON, err := plan.Marshal(p)
	if err != nil {
		return nil, err
	}

	top := &attrs{spaced: true}
	top.set(call{"pkgs.writeText", []expr{str(planStoreName), text(planJSON)}}, "environment", "etc", etcName, "source")
	if kh := set.KnownHosts; kh != nil {
		name, ok := strings.CutPrefix(kh.Path, etcPrefix)
		if !ok || name == "" {
			return nil, fmt.Errorf("paths.known_hosts: %q is not a file under /etc, where NixOS's environment.etc can put it", kh.Path)
		}
		top.set(call{"pkgs.writeText", []expr{str(knownHostsStoreName), text(strings.Join(kh.Lines, "\n") + "\n")}}, "environment", "etc", name, "source")
	}
	// The runbook beside the plan, linked into the docs folder by
	// the tmpfiles rules (units.RunbookPath).
	book, err := runbook.Render(p, runbook.Options{})
	if err != nil {
		return nil, err
	}
	top.set(call{"pkgs.writeText", []expr{str(runbookStoreName), text(string(book))}}, "environment", "etc", strings.TrimPrefix(units.RunbookPath(p), etcPrefix), "source")
	top.set(list{raw("bakc")}, "environment", "systemPackages")
	top.set(userAttrs(p), "users", "users", p.User.Name)
	top.set((&attrs{}).set(raw(strconv.Itoa(p.User.GID)), "gid"), "users", "groups", p.User.Group)
	for _, r := range p.Repositories {
		if r.Kind == plan.KindNFS {
			top.set(fileSystem(r.NFS), "fileSystems", r.NFS.Mountpoint)
		}
	}
	for _, sec := range p.Secrets {
		if sec.Sops == nil {
			return nil, fmt.Errorf("secrets: %s has no source bakc can declare", sec.Name)
		}
		top.set(sopsSecret(p, sec), "sops", "secrets", sec.Name)
	}
	top.set(strs(set.Tmpfiles), "systemd", "tmpfiles", "rules")
	if err := setReplication(top, p); err != nil {
		return nil, err
	}
	usesConfig, usesPackages := len(p.Secrets) > 0, false
	for i := range set.Units {
		u := &set.Units[i]
		name := strings.TrimSuffix(u.Name, "."+u.Type())
		switch u.Type() {
		case "service":
			top.set(service(u), "systemd", "services", name)
			usesConfig = usesConfig || u.RunsZFS
			usesPackages = usesPackages || len(u.Packages) > 0
		case "timer":
			t, err := timer(u)
			if err != nil {
				return nil, err
			}
			top.set(t, "systemd", "timers", name)
		case "mount", "automount":
			// NixOS makes them from fileSystems (above).
		default:
			return nil, fmt.Errorf("%s: NixOS rendering of %s units is not supported", u.Name, u.Type())
		}
	}

	var b strings.Builder
	b.WriteString("# " + templates.Header(p.Source) + "\n")
	args := []string{"pkgs", "..."}
	if usesConfig {
		args = []string{"config", "pkgs", "..."}
	}
	b.WriteString("{\n")
	for i, a := range args {
		b.WriteString("  " + a)
		if i < len(args)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}:\n\n")
	b.WriteString("let\n")
	b.WriteString("  bakc = pkgs.bakc or (throw missingBakc);\n")
	b.WriteString("  missingBakc = " + string(str(MissingBakc)) + ";\n")
	if len(p.Secrets) > 0 {
		b.WriteString("  fleet = config.bakc.fleet or (throw missingFleet);\n")
		b.WriteString("  missingFleet = " + string(str(missingFleet)) + ";\n")
	}
	if usesPackages {
		b.WriteString("  missingPackage =\n    name: throw (" + string(str(missingPackagePrefix)) + " + name + " + string(str(missingPackageSuffix)) + ");\n")
	}
	b.WriteString("in\n")
	top.print(&b, "")
	b.WriteString("\n")
	return []byte(b.String()), nil
}

func userAttrs(p *plan.Plan) *attrs {
	return (&attrs{}).
		set(raw("true"), "isSystemUser").
		set(raw(strconv.Itoa(p.User.UID)), "uid").
		set(str(p.User.Group), "group").
		set(str("bakc backups"), "description")
}

// fileSystem is the fstab entry of an NFS repository; its options (from
// the plan) make it an automount with timeouts.
func fileSystem(m *plan.NFSMount) *attrs {
	return (&attrs{}).
		set(str(m.Source()), "device").
		set(str("nfs"), "fsType").
		set(strs(m.Options), "options")
}

// service renders a service unit. Its sections go to unitConfig and
// serviceConfig with the same keys and values as the plain unit file;
// bakc's program is the package's store path.
func service(u *units.Unit) *attrs {
	a := &attrs{}
	// A running backup must not be killed by nixos-rebuild switch.
	a.set(raw("false"), "restartIfChanged")
	var path list
	if u.RunsZFS {
		// zfs(8) matching the kernel module.
		path = append(path, raw("config.boot.zfs.package"))
	}
	// The packages the job's hooks and dumps declare; a name pkgs does
	// not have stops the evaluation with a message naming it.
	for _, pkg := range u.Packages {
		path = append(path, packageExpr(pkg))
	}
	if u.RunsSSH {
		// restic's ssh for an sftp repository; a service's default
		// path (coreutils, findutils, grep, sed, systemd) has none.
		path = append(path, raw("pkgs.openssh"))
	}
	if path != nil {
		a.set(path, "path")
	}
	for _, s := range u.Sections {
		a.set(section(s), strings.ToLower(s.Name[:1])+s.Name[1:]+"Config")
	}
	return a
}

// MissingPackage is the message of the module's throw when pkgs has no
// package of a name a hook or dump declares; tests look for it.
func MissingPackage(pkg string) string { return missingPackagePrefix + pkg + missingPackageSuffix }

const (
	missingPackagePrefix = "bakc: a hook or dump of this node declares packages = [ \""
	missingPackageSuffix = "\" ], but pkgs has no such attribute. Fix the name, or add an overlay that provides it."
)

// packageExpr is pkgs.<attribute path>, or the module's missingPackage
// throw naming it: Nix's `or` applies to the whole attribute path, so a
// missing attribute at any depth gives bakc's message instead of Nix's
// "attribute missing".
func packageExpr(pkg string) raw {
	var b strings.Builder
	b.WriteString("(pkgs")
	for _, seg := range strings.Split(pkg, ".") {
		b.WriteString("." + escape.NixAttrName(seg))
	}
	b.WriteString(" or (missingPackage " + string(str(pkg)) + "))")
	return raw(b.String())
}

// timer renders a timer unit: [Unit] and [Timer] as unitConfig and
// timerConfig, [Install] WantedBy= as wantedBy (NixOS links the unit
// into the target itself).
func timer(u *units.Unit) (*attrs, error) {
	a := &attrs{}
	for _, s := range u.Sections {
		if s.Name != "Install" {
			continue
		}
		for _, k := range s.Keys() {
			if k != "WantedBy" {
				return nil, fmt.Errorf("%s: [Install] %s= has no NixOS form here", u.Name, k)
			}
		}
		a.set(strs(s.Values("WantedBy")), "wantedBy")
	}
	for _, s := range u.Sections {
		if s.Name != "Install" {
			a.set(section(s), strings.ToLower(s.Name[:1])+s.Name[1:]+"Config")
		}
	}
	return a, nil
}

// listKeys are the settings that add up in systemd (dependencies,
// paths). They are always lists in the module, so that a host's own
// definition (systemd.services.bakc-backup-x.after = [ … ]) is
// concatenated with bakc's by NixOS instead of conflicting with it.
var listKeys = map[string]bool{
	"After": true, "Before": true, "Wants": true, "Requires": true,
	"RequiresMountsFor": true, "OnFailure": true, "ReadWritePaths": true,
	"DeviceAllow": true,
}

// section renders a unit section as an attribute set: a key that
// appears once is a string, a key that appears several times, or that
// adds up in systemd, a list (NixOS writes one line per element, which
// is what the plain file has).
func section(s units.Section) *attrs {
	a := &attrs{}
	for _, k := range s.Keys() {
		var vals list
		for _, e := range s.Entries {
			if e.Key != k || e.PlainOnly {
				continue
			}
			if e.Program {
				vals = append(vals, programLine(e.Value))
			} else {
				vals = append(vals, str(e.Value))
			}
		}
		if len(vals) == 0 {
			continue
		}
		if len(vals) == 1 && !listKeys[k] {
			a.set(vals[0], k)
		} else {
			a.set(vals, k)
		}
	}
	return a
}

// programLine is a command line whose program is bakc's store path:
// "${bakc}/bin/bakc <args>", with args (already escaped for systemd)
// escaped for Nix. A store path needs no systemd escaping.
func programLine(args string) raw {
	lit := string(str(" " + args))
	return raw(`"${bakc}/bin/bakc` + lit[1:])
}

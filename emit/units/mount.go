package units

import (
	"fmt"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// buildMounts writes, for each NFS repository, the mount unit and (when
// its options ask for x-systemd.automount) the automount unit that
// systemd-fstab-generator would make of the fstab line NixOS writes for
// the same repository. A plain host installs them instead of editing
// /etc/fstab; a test runs the real generator and compares.
func buildMounts(p *plan.Plan) []Unit {
	var out []Unit
	for i := range p.Repositories {
		r := &p.Repositories[i]
		if r.Kind != plan.KindNFS {
			continue
		}
		m := mountOptions(r.NFS.Options)
		desc := fmt.Sprintf("bakc repository %s (NFS from %s)", r.Name, r.NFS.NAS)

		u := newSection("Unit").add("Description", escape.SystemdString(desc))
		// _netdev: a network file system, ordered before
		// remote-fs.target and after the network.
		u.add("Before", "remote-fs.target")
		mt := newSection("Mount").
			add("What", escape.SystemdString(r.NFS.Source())).
			add("Where", escape.SystemdString(r.NFS.Mountpoint)).
			add("Type", "nfs")
		if m.mountTimeout != "" {
			mt.add("TimeoutSec", m.mountTimeout)
		}
		mt.add("Options", escape.SystemdString(strings.Join(r.NFS.Options, ",")))
		mount := Unit{
			Name:       escape.SystemdUnitNameFromPath(r.NFS.Mountpoint, ".mount"),
			Sections:   []Section{u.Section, mt.Section},
			Repository: r.Name,
		}
		if !m.noauto && !m.automount {
			mount.Sections = append(mount.Sections, newSection("Install").add("WantedBy", "remote-fs.target").Section)
		}
		out = append(out, mount)

		if m.automount {
			au := newSection("Unit").add("Description", escape.SystemdString(desc))
			am := newSection("Automount").add("Where", escape.SystemdString(r.NFS.Mountpoint))
			if m.idleTimeout != "" {
				am.add("TimeoutIdleSec", m.idleTimeout)
			}
			in := newSection("Install").add("WantedBy", "remote-fs.target")
			out = append(out, Unit{
				Name:       escape.SystemdUnitNameFromPath(r.NFS.Mountpoint, ".automount"),
				Sections:   []Section{au.Section, am.Section, in.Section},
				Repository: r.Name,
			})
		}
	}
	return out
}

// fstabOptions are the fstab options that change which units
// systemd-fstab-generator writes (systemd.mount(5), "FSTAB").
type fstabOptions struct {
	automount, noauto         bool
	idleTimeout, mountTimeout string
}

func mountOptions(opts []string) fstabOptions {
	var m fstabOptions
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "x-systemd.automount":
			m.automount = true
		case "noauto":
			m.noauto = true
		case "auto":
			m.noauto = false
		case "x-systemd.idle-timeout":
			m.idleTimeout = v
		case "x-systemd.mount-timeout":
			m.mountTimeout = v
		}
	}
	return m
}

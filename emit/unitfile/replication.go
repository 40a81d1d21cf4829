package unitfile

import (
	"fmt"
	"path"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/replication"
)

// A replicating node's side on a host that is not NixOS
// (docs/replication.md): what backup.nix gets from NixOS's
// services.sanoid, users.users.bakc-send and the bakc-replication-allow
// oneshot, as plain files.
//
//   - bakc-sanoid.conf, installed as sanoid.conf in SanoidConfigDir (a
//     folder of bakc's own, so that a sanoid the host already runs from
//     /etc/sanoid is left alone), and bakc-sanoid.service with its timer,
//     which run Debian's sanoid (--cron: take, then prune) on it, as
//     Debian's sanoid.service does, with TZ=UTC;
//   - the send user in bakc-sysusers.conf, with a shell (sshd runs even a
//     forced command through it) and a home that is root's;
//   - bakc-send.authorized_keys, installed as that home's
//     .ssh/authorized_keys: the NAS's key, restricted to its addresses
//     and to bakc's guard;
//   - bakc-replication-allow.service, which delegates zfs send of the
//     replicated datasets to the send user at boot.
const (
	SanoidConfFile = "bakc-sanoid.conf"
	SendKeysFile   = "bakc-send.authorized_keys"
	sanoidUnit     = "bakc-sanoid"
	sendHome       = "/var/lib/" + plan.SendUser
)

// SanoidConfigDir is the folder of the node's sanoid.conf: beside the
// plan (/etc/bakc/sanoid).
func SanoidConfigDir(p *plan.Plan) string { return path.Join(path.Dir(p.Paths.Plan), "sanoid") }

// SendKeysPath is where SendKeysFile is installed.
func SendKeysPath() string { return sendHome + "/.ssh/authorized_keys" }

// replicationFiles are the files above, with header; none when the node
// does not replicate.
func replicationFiles(p *plan.Plan, program, header string) ([]File, []string, error) {
	r := p.Replication
	if r == nil {
		return nil, nil, nil
	}
	key, err := replication.AuthorizedKey(r, program)
	if err != nil {
		return nil, nil, err
	}
	conf := SanoidConfigDir(p)
	for _, a := range append([]string{conf, r.User}, r.Datasets...) {
		if err := escape.CheckSystemdExecArg(a); err != nil {
			return nil, nil, fmt.Errorf("replication: %w", err)
		}
	}
	service, timer := units.SanoidUnits(sanoidUnit, "sanoid takes and prunes the snapshots "+r.NAS+" pulls",
		"the snapshots "+r.NAS+" pulls", conf, replication.SanoidCalendar(r.Snapshots))
	allow := units.ReplicationAllowUnit(r)
	var files []File
	for _, u := range []units.Unit{service, timer, allow} {
		data, err := Serialize(&u, program)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, File{Name: u.Name, Data: append([]byte(header), data...)})
	}
	files = append(files,
		File{Name: SanoidConfFile, Data: []byte(replication.SanoidConfig(
			strings.TrimPrefix(header, "# ")+"Install as "+conf+"/sanoid.conf.", r.Datasets, r.Snapshots, true))},
		File{Name: SendKeysFile, Data: []byte(header + "# Install as " + SendKeysPath() + " (owner root, mode 0644).\n" + key)},
	)
	// The send user: no password, a shell for sshd's forced command, a
	// home it cannot write (its authorized_keys is root's).
	sysusers := []string{fmt.Sprintf("u %s - %q %s /bin/sh", r.User, replication.SendUserDescription(r.NAS), sendHome)}
	return files, sysusers, nil
}

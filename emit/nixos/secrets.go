package nixos

import (
	"github.com/holthome/bakc/compiler/plan"
)

// The plan's sops secrets become sops-nix declarations
// (sops.secrets."<name>", modules/sops/default.nix of sops-nix):
//
//   - sopsFile: the fleet's file, as a path below config.bakc.fleet, the
//     fleet's folder, which bakc's NixOS module declares and the host's
//     configuration sets once (bakc.fleet = ./backup;). A path relative
//     to backup.nix would depend on where backup.nix is written, and the
//     same compile would print different modules in different places.
//   - key and format: the plan's.
//   - path: the plan's, which is sops-nix's own default for the name
//     (/run/secrets/<name>): sops-nix then makes no symlink, and the
//     plan, compiled before the node is built, names the right file.
//   - owner, group: the backup user and group, mode 0400: every secret
//     of a repository is read by the backup user (docs/security.md).
//   - restartUnits: none. Every bakc service is a oneshot that reads its
//     secrets when it starts, so the next run reads a new value; a
//     running backup keeps the value it started with. And a unit sops-nix
//     lists there that is not running is started by the switch
//     (switch-to-configuration starts an inactive unit of the activation
//     restart list; sops-install-secrets under systemd runs systemctl
//     restart): a changed secret would start a backup at every rebuild.

// missingFleet is the message of the module's throw when config.bakc is
// missing; tests look for it.
const missingFleet = "bakc: this node's backup.nix declares sops-nix secrets, whose files it finds in the fleet's folder: import bakc's NixOS module (inputs.bakc.nixosModules.default) and set bakc.fleet to the folder of bakc.hcl (bakc.fleet = ./backup;)."

// MissingFleet is missingFleet, for tests.
const MissingFleet = missingFleet

// sopsSecret is the sops-nix declaration of one secret.
func sopsSecret(p *plan.Plan, s plan.Secret) *attrs {
	a := &attrs{}
	a.set(raw("fleet + "+string(str("/"+s.Sops.File))), "sopsFile")
	if s.Sops.Key != "" {
		a.set(str(s.Sops.Key), "key")
	}
	return a.
		set(str(s.Sops.Format), "format").
		set(str(s.Path), "path").
		set(str(p.User.Name), "owner").
		set(str(p.User.Group), "group").
		set(str(plan.SecretMode), "mode")
}

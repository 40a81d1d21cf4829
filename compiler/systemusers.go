package compiler

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/schema"
)

// The backup user and group are bakc's own: backup.nix declares them in
// users.users and users.groups, the plain units in sysusers.d, both with
// the fixed ids the NAS gives repositories to. NixOS defines some users
// and groups itself on every host, with fixed ids, and a second
// definition with another uid, gid, group or description is an error of
// its module system ("The option `users.groups.users.gid' has conflicting
// definition values"), or, for an id another of them holds, of its
// assertion "UIDs and GIDs must be unique!" — nixos-rebuild stops. The
// same names exist on other hosts, where systemd-sysusers keeps an
// existing group's gid and then does not create the user at all
// ("please create GID 2049", exit status 0). And a group shared with
// other users (users, wheel) would let them read the backups' state,
// cache and logs. So these names and ids are refused.
//
// From nixpkgs: nixos/modules/config/users-groups.nix (users root and
// nobody, and the groups below), nixos/modules/misc/ids.nix (their ids;
// "30000 - 31000: nixbld users"), nixos/modules/services/system/
// nix-daemon.nix (the build users nixbld1…nixbldN, uid 30000+N, group
// nixbld; N is nix.nrBuildUsers, at least 32).

// nixosUsers are the users NixOS defines, with their uids.
var nixosUsers = map[string]int{"root": 0, "nobody": 65534}

// nixbldUserRE is a build user of the nix daemon.
var nixbldUserRE = regexp.MustCompile(`^nixbld[0-9]+$`)

// nixbldUIDs is the uid range ids.nix keeps for the build users.
const nixbldFirstUID, nixbldLastUID = 30000, 31000

// nixosGroups are the groups NixOS defines, with their gids (-1: the gid
// is not one bakc knows; the name is refused all the same).
var nixosGroups = map[string]int{
	"root": 0, "wheel": 1, "kmem": 2, "tty": 3, "disk": 6, "audio": 17,
	"floppy": 18, "uucp": 19, "lp": 20, "cdrom": 24, "tape": 25,
	"video": 26, "dialout": 27, "utmp": 29, "adm": 55, "users": 100,
	"input": 174, "kvm": 302, "render": 303, "sgx": 304, "shadow": 318,
	"clock": -1, "nixbld": 30000, "nogroup": 65534,
}

// checkSystemName reports a backup user or group name NixOS defines
// itself.
func checkSystemName(t *schema.Text, group bool) hcl.Diagnostics {
	name := t.Value
	switch {
	case !group && (nixbldUserRE.MatchString(name) || hasKey(nixosUsers, name)):
		return hcl.Diagnostics{errorAt(t.Range, "Reserved user name",
			"The user %q is one NixOS defines itself (root, nobody and the nix daemon's build users nixbld1, nixbld2, …), with its own uid and description: backup.nix would define it again as the backup user, and nixos-rebuild stops on the conflicting definitions; other hosts have it too. The backup user is a user of its own: keep the default %q, or choose a name no other user has.", name, defaultUser)}
	case group && hasKey(nixosGroups, name):
		return hcl.Diagnostics{errorAt(t.Range, "Reserved group name",
			"The group %q is one NixOS defines itself%s: backup.nix would define it again with the backup user's gid, and nixos-rebuild stops on the conflicting definitions; on other hosts systemd-sysusers keeps the existing group and then does not create the backup user. Its members would also read the backups' state, cache and logs. Choose a group of its own: keep the default %q, or a name no other group has.", name, gidWords(nixosGroups[name]), defaultUser)}
	}
	return nil
}

// checkSystemID reports a backup uid or gid that a user or group NixOS
// defines holds already.
func checkSystemID(n *schema.Number, id int, group bool) hcl.Diagnostics {
	if !group && id >= nixbldFirstUID && id <= nixbldLastUID {
		return hcl.Diagnostics{errorAt(n.Range, "Reserved user id",
			"The uid %d is in the range NixOS keeps for the nix daemon's build users (%d to %d, nixbld1 is %d): two users with one uid fail NixOS's check that uids are unique. Choose another, such as %d.", id, nixbldFirstUID, nixbldLastUID, nixbldFirstUID+1, defaultUID)}
	}
	if !group {
		return nil
	}
	for _, name := range sortedKeys(nixosGroups) {
		if nixosGroups[name] == id {
			return hcl.Diagnostics{errorAt(n.Range, "Reserved group id",
				"The gid %d is the group %s's, which NixOS defines itself: two groups with one gid fail NixOS's check that gids are unique, and a NAS that gives the repositories to gid %d gives them to that group's members. Choose another, such as %d.", id, name, id, defaultUID)}
		}
	}
	return nil
}

func gidWords(gid int) string {
	if gid < 0 {
		return ""
	}
	return fmt.Sprintf(" with the gid %d", gid)
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

package plan

import (
	"testing"
)

// TestCheckPlacement: what each kind of path bakc writes may be, and
// which diagnostic refuses it (compiler/testdata/invalid/
// paths-owned-by-others.txtar shows the same at the source).
func TestCheckPlacement(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pl      Placement
		path    string
		summary string // "" for accepted
	}{
		{"the default plan", PlacePlan, "/etc/bakc/plan.json", ""},
		{"a plan with a space", PlacePlan, "/etc/bakc/zed plan.json", ""},
		{"a plan in a sub-folder", PlacePlan, "/etc/bakc/nodes/forge.json", ""},
		{"the plan as fstab", PlacePlan, "/etc/fstab", "Plan path outside /etc/bakc"},
		{"the plan as shadow", PlacePlan, "/etc/shadow", "Plan path outside /etc/bakc"},
		{"the plan as the NixOS configuration", PlacePlan, "/etc/nixos/configuration.nix", "Plan path outside /etc/bakc"},
		{"the plan as its folder", PlacePlan, "/etc/bakc", "Plan path outside /etc/bakc"},
		{"the plan beside its folder", PlacePlan, "/etc/bakcx/plan.json", "Plan path outside /etc/bakc"},
		{"the plan outside /etc", PlacePlan, "/var/lib/bakc/plan.json", "Plan path outside /etc/bakc"},

		{"the default state", PlaceOwnFolder, "/var/lib/bakc", ""},
		{"state below a bakc folder", PlaceOwnFolder, "/persist/bakc/state", ""},
		{"a cache named bakc-…", PlaceOwnFolder, "/data/bakc-cache", ""},
		{"another service's state", PlaceOwnFolder, "/var/lib/postgresql", "Not a folder of bakc's own"},
		{"all of /var/lib", PlaceOwnFolder, "/var/lib", "Not a folder of bakc's own"},
		{"state in /etc", PlaceOwnFolder, "/etc/bakc", "Path in a system folder"},
		{"state in /tmp", PlaceOwnFolder, "/tmp/bakc", "Path in a system folder"},
		{"state in /var/tmp", PlaceOwnFolder, "/var/tmp/bakc", "Path in a system folder"},
		{"state in /run", PlaceOwnFolder, "/run/bakc", "Path in a system folder"},
		{"a cache in /usr", PlaceOwnFolder, "/usr/share/bakc", "Path in a system folder"},
		{"a log in /nix", PlaceOwnFolder, "/nix/var/bakc", "Path in a system folder"},

		{"the default error log", PlaceOwnFile, "/var/log/bakc/errors.jsonl", ""},
		{"an error log beside the others", PlaceOwnFile, "/var/log/errors.jsonl", "Not in a folder of bakc's own"},
		{"an error log named bakc", PlaceOwnFile, "/var/log/bakc.jsonl", "Not in a folder of bakc's own"},
		{"an error log in /etc", PlaceOwnFile, "/etc/bakc/errors.jsonl", "Path in a system folder"},

		{"node_exporter's textfile folder", PlaceShared, "/var/lib/node_exporter/textfile_collector", ""},
		{"a textfile folder on a tmpfs", PlaceShared, "/run/prometheus-node-exporter", ""},
		{"a textfile folder with a space", PlaceShared, "/var/lib/node_exporter/textfile collector", ""},
		{"all of /var/lib as textfile folder", PlaceShared, "/var/lib", "Shared folder"},
		{"all of /run as textfile folder", PlaceShared, "/run", "Shared folder"},
		{"a home as textfile folder", PlaceShared, "/home/alice", "Shared folder"},
		{"a textfile folder in /etc", PlaceShared, "/etc/prometheus", "Path in a system folder"},
		{"a textfile folder in /tmp", PlaceShared, "/tmp/metrics", "Path in a system folder"},

		{"a repository of its own", PlaceRepository, "/srv/restic", ""},
		{"an NFS mountpoint of its own", PlaceRepository, "/mnt/nas-backup", ""},
		{"a repository in a user's home", PlaceRepository, "/home/alice/restic", ""},
		{"a repository as /home", PlaceRepository, "/home", "Shared folder"},
		{"a repository as a user's home", PlaceRepository, "/home/alice", "Shared folder"},
		{"a repository as /", PlaceRepository, "/", "Shared folder"},
		{"a repository as /mnt", PlaceRepository, "/mnt", "Shared folder"},
		{"a repository on a tmpfs", PlaceRepository, "/run/restic", "Path in a system folder"},
		{"an NFS mountpoint over /nix", PlaceRepository, "/nix", "Path in a system folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPlacement(tc.pl, tc.path)
			if tc.summary == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			pe, ok := err.(*PlacementError)
			if !ok {
				t.Fatalf("got %v, want a placement error %q", err, tc.summary)
			}
			if pe.Summary != tc.summary {
				t.Errorf("summary %q, want %q (%s)", pe.Summary, tc.summary, pe.Why)
			}
		})
	}
}

package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A local repository's mountpoint reaches the plan as written; without
// one (and without init) the plan has none.
func TestLocalRepositoryMountpoint(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": "defaults {\n  retention {\n    daily = 1\n  }\n}\n",
		"hosts/a.hcl": `
node "a" {
  repository "usb" {
    path          = "/mnt/usb/restic"
    mountpoint    = "/mnt/usb"
    password_file = "/run/secrets/restic"
    init          = true
  }
  repository "disk" {
    path          = "/mnt/disk"
    mountpoint    = "/mnt/disk"
    password_file = "/run/secrets/restic"
  }
  repository "root" {
    path          = "/var/backup/restic"
    mountpoint    = "/"
    password_file = "/run/secrets/restic"
    init          = true
  }
  repository "plain" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
  }
  job "j" {
    paths = ["/home"]
  }
}
`,
	})
	p := mustPlan(t, dir, "a")
	got := map[string]string{}
	for _, r := range p.Repositories {
		got[r.Name] = r.Mountpoint
	}
	want := map[string]string{"usb": "/mnt/usb", "disk": "/mnt/disk", "root": "/", "plain": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mountpoints (-want +got):\n%s", diff)
	}
}

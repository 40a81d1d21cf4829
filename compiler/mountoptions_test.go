package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMountOptionsKeepTheirOrder: the plan has the options as written,
// not sorted (issue 9, item 11); a repeated one is kept once.
func TestMountOptionsKeepTheirOrder(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": `nas "n" {
  address = "n.example.net"
  parent  = "backup"
  dataset "restic" {
    export = "nfs"
  }
}
` + okRoot,
		"hosts/a.hcl": `node "a" {
  address = "a.example.net"
  nas     = "n"
  repository "r" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas"
      options    = ["soft", "x-systemd.automount", "nfsvers=4.1", "noatime", "_netdev"]
    }
    password_file = "/run/secrets/restic"
  }
  job "j" {
    paths = ["/data"]
  }
}
`,
	})
	p := mustPlan(t, dir, "a")
	want := []string{"soft", "x-systemd.automount", "nfsvers=4.1", "noatime", "_netdev"}
	if diff := cmp.Diff(want, p.Repositories[0].NFS.Options); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

// TestReceiveDatasetOnlyForReplicatingNodes: a NAS's receive dataset
// block is created only for the nodes that replicate into it (forge in
// the example), not for every node (luna, which has no replication, got
// a 500G zfs-recv it could never use, counted against the capacity).
func TestReceiveDatasetOnlyForReplicatingNodes(t *testing.T) {
	f, diags := LoadFleet("../examples/homelab")
	require.Empty(t, diags)
	p, diags := f.NASPlan("nas-1")
	require.Empty(t, diags)
	got := map[string][]string{}
	for _, n := range p.Nodes {
		for _, ds := range n.Datasets {
			got[n.Name] = append(got[n.Name], ds.Name)
		}
		if n.Replication != nil {
			got[n.Name+" pulls"] = nil
			for _, d := range n.Replication.Datasets {
				got[n.Name+" pulls"] = append(got[n.Name+" pulls"], d.Source+" → "+d.Target)
			}
		}
	}
	want := map[string][]string{
		"forge":       {"restic", "zfs-recv"},
		"forge pulls": {"rpool/safe/home → backup/forge/zfs-recv/home", "rpool/safe/persist → backup/forge/zfs-recv/persist"},
		"luna":        {"restic"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NAS datasets per node (-want +got):\n%s", diff)
	}
	require.NotNil(t, p.Replication)
	require.Equal(t, "/run/secrets/bakc-replication-key", p.Replication.IdentityFile)
}

// TestReplicationDefaults: a replication block with only a host key
// pulls every dataset of the zfs block hourly, with the default
// policies, and lets the NAS's key in from the NAS's IP address.
func TestReplicationDefaults(t *testing.T) {
	dir := writeFleet(t, map[string]string{
		"bakc.hcl": `
nas "nas-1" {
  address = "192.0.2.5"
  parent  = "backup"
  replication {
    identity_file = "/run/secrets/key"
    public_key    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+tGQwqeUpu/56CW5SZqVZTWlSU1cwkYDzKcBR1wEBr bakc@nas-1"
  }
  dataset "copies" {
    receive = true
  }
}
`,
		"hosts/db.hcl": `
node "db" {
  address = "fd00::10"
  nas     = "nas-1"
  zfs {
    datasets = { "/srv" = "tank/srv", "/var/lib" = "tank/state" }
    replication {
      host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOxgqD9pXF8qiL1Vez71OMK7BvfkpZFJMecQRN/jFJjG"
      port     = 2222
    }
  }
  repository "local" {
    path          = "/backup/restic"
    password_file = "/run/secrets/restic"
  }
  job "state" {
    paths = ["/var/lib"]
    retention { daily = 7 }
  }
}
`,
	})
	p := mustPlan(t, dir, "db")
	want := &plan.Replication{
		Datasets:  []string{"tank/srv", "tank/state"},
		Snapshots: defaultNodeSnapshots,
		User:      plan.SendUser,
		NAS:       "nas-1",
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+tGQwqeUpu/56CW5SZqVZTWlSU1cwkYDzKcBR1wEBr bakc@nas-1",
		From:      []string{"192.0.2.5"},
		Copies: []plan.ReplicaDataset{
			{Source: "tank/srv", Target: "backup/db/copies/srv"},
			{Source: "tank/state", Target: "backup/db/copies/state"},
		},
		Schedule: &plan.Schedule{Calendar: "hourly", RandomizedDelay: "30m"},
	}
	if diff := cmp.Diff(want, p.Replication); diff != "" {
		t.Errorf("node replication (-want +got):\n%s", diff)
	}
	f, diags := LoadFleet(dir)
	require.Empty(t, diags)
	np, diags := f.NASPlan("nas-1")
	require.Empty(t, diags)
	wantNAS := &plan.NodeReplication{
		Address:  "fd00::10",
		Port:     2222,
		User:     plan.SendUser,
		HostKey:  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOxgqD9pXF8qiL1Vez71OMK7BvfkpZFJMecQRN/jFJjG",
		Schedule: plan.Schedule{Calendar: "hourly", RandomizedDelay: "30m"},
		Datasets: []plan.ReplicaDataset{
			{Source: "tank/srv", Target: "backup/db/copies/srv"},
			{Source: "tank/state", Target: "backup/db/copies/state"},
		},
		Keep: defaultNASKeep,
	}
	if diff := cmp.Diff(wantNAS, np.Nodes[0].Replication); diff != "" {
		t.Errorf("NAS side (-want +got):\n%s", diff)
	}
	require.NoError(t, np.ValidateReplication())
}

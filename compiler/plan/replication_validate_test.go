package plan

import (
	"strings"
	"testing"
)

// TestValidateReplication: a NAS plan the compiler would write passes;
// each field the NAS's syncoid and sanoid would run with as root is
// refused when it is not what the compiler writes, naming the field.
func TestValidateReplication(t *testing.T) {
	good := func() *NASPlan {
		return &NASPlan{
			Version: Version,
			NAS:     NAS{Name: "nas-1"},
			Replication: &NASReplication{
				IdentityFile: "/run/secrets/bakc-replication-key",
				PublicKey:    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+tGQwqeUpu/56CW5SZqVZTWlSU1cwkYDzKcBR1wEBr bakc@nas-1",
				State:        "/var/lib/bakc", TextfileDir: "/var/lib/node-exporter", ErrorLog: "/var/log/bakc/errors.jsonl",
			},
			Nodes: []NASNode{{
				Name: "forge", Dataset: "backup/forge",
				Replication: &NodeReplication{
					Address: "192.0.2.7", User: SendUser,
					HostKey:  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIACbE1vw7nszp8Qhn8bKeXZkWdma59rHcW+qOtwR9PBH",
					Schedule: Schedule{Calendar: "hourly"},
					Datasets: []ReplicaDataset{{Source: "rpool/home", Target: "backup/forge/zfs-recv/home"}},
					Keep:     SnapshotPolicy{Daily: 30},
				},
			}},
		}
	}
	if err := good().ValidateReplication(); err != nil {
		t.Fatalf("the good plan: %v", err)
	}
	for _, tc := range []struct {
		name, field string
		edit        func(p *NASPlan)
	}{
		{"key in the store", "replication.identity_file", func(p *NASPlan) { p.Replication.IdentityFile = "/nix/store/abc-key" }},
		{"copy of another node", "nodes[0].replication.datasets[0].target", func(p *NASPlan) {
			p.Nodes[0].Replication.Datasets[0].Target = "backup/luna/zfs-recv/home"
		}},
		{"another login", "nodes[0].replication.user", func(p *NASPlan) { p.Nodes[0].Replication.User = "root" }},
		{"host key with options", "nodes[0].replication.host_key", func(p *NASPlan) {
			p.Nodes[0].Replication.HostKey = `command="sh" ` + p.Nodes[0].Replication.HostKey
		}},
		{"address with a space", "nodes[0].replication.address", func(p *NASPlan) { p.Nodes[0].Replication.Address = "a b" }},
		{"keeps nothing", "nodes[0].replication.keep", func(p *NASPlan) { p.Nodes[0].Replication.Keep = SnapshotPolicy{} }},
		{"no replication", "replication", func(p *NASPlan) { p.Replication = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.edit(p)
			err := p.ValidateReplication()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("ValidateReplication() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

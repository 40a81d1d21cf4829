package plan

// ZFS replication (docs/replication.md). The NAS pulls: syncoid runs on
// the NAS and logs in to the node, where the NAS's key runs only `bakc
// send-guard`, which lets it `zfs send` the node's declared datasets and
// read their snapshot lists, nothing else. The node holds no credential
// for the NAS, so a node taken over (root) cannot reach the history the
// NAS already has. sanoid takes and prunes the snapshots on the node, and
// prunes the NAS's copies by the NAS's own, longer policy.

// SendUser is the user on a replicating node that the NAS logs in as.
const SendUser = "bakc-send"

// Replication is a node's side of ZFS replication: sanoid's snapshots of
// Datasets, and the login of its NAS.
type Replication struct {
	// Datasets are the node's datasets the NAS pulls, sorted; each is one
	// of Node.Datasets.
	Datasets []string `json:"datasets"`
	// Snapshots is the policy sanoid takes and prunes them by, on the node.
	Snapshots SnapshotPolicy `json:"snapshots"`
	// User is the local user the NAS logs in as (SendUser).
	User string `json:"user"`
	// NAS is the name of the NAS that pulls.
	NAS string `json:"nas"`
	// PublicKey is the NAS's replication key, one OpenSSH public key line
	// without options.
	PublicKey string `json:"public_key"`
	// From are the addresses the NAS connects from, as the node's sshd
	// sees them: IP addresses or CIDR prefixes, never host names (sshd
	// matches a name only with UseDNS yes). Sorted.
	From []string `json:"from"`
	// Copies are where the NAS keeps each dataset's copy (the runbook's
	// restore of a whole dataset), sorted by source; the NAS plan holds
	// the same pairs.
	Copies []ReplicaDataset `json:"copies,omitempty"`
	// Schedule is when the NAS pulls (NodeReplication.Schedule, for the
	// alerts' lag threshold), set with Copies; absent in plans of builds
	// before it.
	Schedule *Schedule `json:"schedule,omitempty"`
}

// SnapshotPolicy is how many snapshots of each of sanoid's kinds are
// kept. sanoid keeps a snapshot of a kind while it is younger than the
// count times the kind's period, and never fewer than the count; 0
// keeps none of the kind (and, on the node, takes none).
type SnapshotPolicy struct {
	Frequently int `json:"frequently"`
	Hourly     int `json:"hourly"`
	Daily      int `json:"daily"`
	Weekly     int `json:"weekly"`
	Monthly    int `json:"monthly"`
	Yearly     int `json:"yearly"`
}

// Kinds returns the policy's counts by sanoid's name of the kind, in
// sanoid's order (shortest period first).
func (s SnapshotPolicy) Kinds() []SnapshotKind {
	return []SnapshotKind{
		{"frequently", s.Frequently},
		{"hourly", s.Hourly},
		{"daily", s.Daily},
		{"weekly", s.Weekly},
		{"monthly", s.Monthly},
		{"yearly", s.Yearly},
	}
}

// SnapshotKind is one kind of sanoid snapshot and its count.
type SnapshotKind struct {
	Name  string
	Count int
}

// NASReplication is what a NAS needs to pull from its nodes: its key,
// and where its runtime (`bakc run replicate`) keeps its lock and state
// and reports.
type NASReplication struct {
	// IdentityFile is the NAS's private key (a secret: never under
	// /nix/store).
	IdentityFile string `json:"identity_file"`
	// PublicKey is its public half, as the nodes' authorized_keys hold it.
	PublicKey string `json:"public_key"`
	// State holds the runtime's locks and the last success per dataset.
	State string `json:"state"`
	// TextfileDir is node_exporter's textfile folder on the NAS.
	TextfileDir string `json:"textfile_dir"`
	// ErrorLog receives one JSON line per failure.
	ErrorLog string `json:"error_log"`
}

// NodeReplication is one node's replication as its NAS runs it.
type NodeReplication struct {
	// Address is where the NAS reaches the node's sshd; Port its port,
	// 0 for 22.
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
	// User is the node's SendUser.
	User string `json:"user"`
	// HostKey is the node's sshd host key, one OpenSSH public key line;
	// the NAS accepts no other.
	HostKey string `json:"host_key"`
	// Schedule is when the NAS pulls.
	Schedule Schedule `json:"schedule"`
	// Datasets are the pairs pulled, sorted by source.
	Datasets []ReplicaDataset `json:"datasets"`
	// Keep is the policy sanoid prunes the NAS's copies by.
	Keep SnapshotPolicy `json:"keep"`
}

// ReplicaDataset is a dataset of the node and its copy on the NAS.
type ReplicaDataset struct {
	// Source is the node's dataset (rpool/safe/home).
	Source string `json:"source"`
	// Target is its copy on the NAS, below the node's receive dataset
	// (backup/forge/zfs-recv/home).
	Target string `json:"target"`
}

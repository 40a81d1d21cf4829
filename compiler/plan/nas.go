package plan

// NASPlan is the resolved NAS side of a fleet for one NAS: the datasets,
// exports and replication users of the nodes that store backups on it.
// `bakc nas-plan` renders it as a shell script or as NixOS config; like a
// node's Plan it is plain, sorted data with no HCL inside.
type NASPlan struct {
	// Version is always plan.Version when written by this build.
	Version int `json:"version"`
	// Sources are the fleet files the plan was compiled from, relative to
	// the fleet root, sorted.
	Sources []string `json:"sources"`
	NAS     NAS      `json:"nas"`
	// User is the fleet's backup user; exported repository datasets are
	// owned by its uid and gid so that exports can squash root.
	User User `json:"user"`
	// Nodes are the nodes using this NAS, sorted by name. `nas-plan NODE`
	// keeps only that node.
	Nodes []NASNode `json:"nodes"`
	// Replication is set when a node of the plan replicates: the NAS
	// pulls (docs/replication.md).
	Replication *NASReplication `json:"replication,omitempty"`
}

// NAS is a storage host that receives backups.
type NAS struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Parent is the dataset below which node datasets are created:
	// Parent/<node>/<dataset>.
	Parent string `json:"parent"`
	// MountRoot is where Parent is mounted on the NAS; exports are
	// MountRoot/<node>/<dataset>.
	MountRoot string `json:"mount_root"`
	// Capacity is the declared usable size in bytes, 0 when undeclared.
	Capacity int64 `json:"capacity,omitempty"`
}

// NASNode is one node's share of a NAS.
type NASNode struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	// Dataset is the node's own parent dataset (Parent/<node>).
	Dataset string `json:"dataset"`
	// Datasets are the node's datasets on the NAS, sorted by name.
	Datasets []NASDataset `json:"datasets"`
	// Replication is set when the NAS pulls the node's ZFS datasets.
	Replication *NodeReplication `json:"replication,omitempty"`
}

// NASDataset is one ZFS dataset on the NAS for one node.
type NASDataset struct {
	// Name is the short name from the configuration ("restic").
	Name string `json:"name"`
	// ZFSName is the full dataset name (backup/forge/restic).
	ZFSName string `json:"zfs_name"`
	// Mountpoint is where it is mounted on the NAS, and what is exported.
	Mountpoint string `json:"mountpoint"`
	// Properties are the ZFS properties to set, quota included, sorted by
	// name; values are in zfs's own syntax.
	Properties []Property `json:"properties"`
	// Owner, if set, is given the dataset's mountpoint (chown), so that
	// the backup user can write to it through a root-squashing export.
	Owner *Owner `json:"owner,omitempty"`
	// Export, if set, exports the dataset over NFS to the node.
	Export *Export `json:"export,omitempty"`
	// Receive, if set, makes the dataset a target of ZFS replication.
	Receive *Receive `json:"receive,omitempty"`
}

// Property is a ZFS property and its value.
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Owner is a numeric uid and gid.
type Owner struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// Export is an NFS export of a dataset to one client.
type Export struct {
	// Client is the node's address.
	Client string `json:"client"`
	// Options are the export options in exports(5) order, e.g.
	// rw,sync,no_subtree_check,root_squash.
	Options []string `json:"options"`
}

// Receive describes the replication user allowed to `zfs receive` into
// a dataset over ssh.
type Receive struct {
	// User is the local user on the NAS (no login shell).
	User string `json:"user"`
	// PublicKey is the node's ssh public key, one line.
	PublicKey string `json:"public_key"`
	// From is the address the key is restricted to (from="…").
	From string `json:"from"`
	// Permissions are the `zfs allow` rights granted on the dataset,
	// sorted.
	Permissions []string `json:"permissions"`
}

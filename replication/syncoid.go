package replication

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// syncoidFlags decide what syncoid does, and so what the node's guard
// must allow and what the NAS may ever do to its copies:
//
//	--no-sync-snap            send sanoid's snapshots; take none on the node
//	                          (the NAS's key may not snapshot, destroy or
//	                          hold there) and prune none anywhere
//	--no-rollback             never `zfs rollback` the NAS's copy and never
//	                          `zfs receive -F`: what the node says can add
//	                          snapshots to the copy, never take one away
//	--no-privilege-elevation  no sudo on the node: the login is the node's
//	                          bakc-send user, with `zfs allow send`
//	--no-resume               no `zfs receive -s` and `zfs send -t TOKEN`: a
//	                          token names its dataset inside itself, where
//	                          the guard cannot check it (and zfs-fuse has no
//	                          resumable streams)
//	--compress=none           no compressor on the node (the guard runs no
//	                          pipeline; the guard answers "command -v" with
//	                          "not there" for mbuffer the same way)
//	--recvoptions=u           receive the copies unmounted: nothing on the
//	                          NAS reads or writes them (a copy changed since
//	                          its last snapshot refuses the next incremental,
//	                          as -F is never used), and a readonly receive
//	                          dataset needs no mountpoint folders in it
//	--quiet                   no progress meter (pv) in the journal; errors
//	                          are still printed
//
// Never --force-delete (which destroys the copy when no snapshot
// matches), --recursive (children's names would come from the node) or
// --sendoptions (the node's guard allows none).
var syncoidFlags = []string{
	"--no-sync-snap",
	"--no-rollback",
	"--no-privilege-elevation",
	"--no-resume",
	"--compress=none",
	"--recvoptions=u",
	"--quiet",
}

// sshOptions make syncoid's ssh use only what bakc gives it: the NAS's
// key, the node's declared host key under the node's name, no agent, no
// questions, a bounded connect and a dead node found within five
// minutes. (syncoid puts them into shell command lines unquoted, so every
// value must be a plain word: SyncoidArgs checks.)
func sshOptions(n *plan.NodeReplication, node, knownHosts string) []string {
	return []string{
		"HostName=" + n.Address,
		"HostKeyAlias=" + node,
		"UserKnownHostsFile=" + knownHosts,
		"GlobalKnownHostsFile=/dev/null",
		"StrictHostKeyChecking=yes",
		"UpdateHostKeys=no",
		"CheckHostIP=no",
		"IdentitiesOnly=yes",
		"BatchMode=yes",
		"ConnectTimeout=30",
		"ServerAliveInterval=60",
		"ServerAliveCountMax=5",
	}
}

// SyncoidArgs are syncoid's arguments (without the program) that pull
// one dataset of node into its copy on the NAS, logging in with the key
// identityFile and accepting the node's host key from knownHosts (a file
// KnownHostsLine wrote). The source is USER@NODE:DATASET with the node's
// name as the host, which ssh is told the address of (HostName=): an
// IPv6 address would not survive syncoid's USER@HOST:DATASET parsing.
func SyncoidArgs(n *plan.NodeReplication, node string, d plan.ReplicaDataset, identityFile, knownHosts string) ([]string, error) {
	args := append([]string{}, syncoidFlags...)
	args = append(args, "--sshkey", identityFile)
	if n.Port != 0 && n.Port != 22 {
		args = append(args, "--sshport", strconv.Itoa(n.Port))
	}
	opts := sshOptions(n, node, knownHosts)
	for _, o := range opts {
		args = append(args, "--sshoption", o)
	}
	args = append(args, n.User+"@"+node+":"+d.Source, d.Target)
	for _, w := range append([]string{identityFile, n.User, node, d.Source, d.Target}, opts...) {
		if !safeWordRE.MatchString(w) {
			return nil, fmt.Errorf("%q cannot reach syncoid, which puts it into shell command lines unquoted", w)
		}
	}
	return args, nil
}

// KnownHostsLine is the known_hosts line for the node's host key, under
// the node's name (syncoid's ssh gets HostKeyAlias=NODE).
func KnownHostsLine(node, hostKey string) string { return node + " " + hostKey + "\n" }

// CommandName is the NAS's NixOS services.syncoid.commands name of one
// pulled dataset (its service is syncoid-NAME.service).
func CommandName(node, source string) string {
	return "bakc-" + node + "-" + strings.ReplaceAll(source, "/", "-")
}

// ReplicateUnitName is a plain NAS's service (and timer) that pulls one
// dataset of a node.
func ReplicateUnitName(node, source string) string {
	return "bakc-replicate-" + node + "-" + strings.ReplaceAll(source, "/", "-")
}

// PullUnitNames are the service names, on a NixOS NAS and on a plain
// one, of the pull of source from node: systemd refuses a unit name
// longer than 255 bytes, so the compiler checks them.
func PullUnitNames(node, source string) []string {
	return []string{"syncoid-" + CommandName(node, source) + ".service", ReplicateUnitName(node, source) + ".service"}
}

// Package replication holds what bakc's ZFS replication is made of on
// both sides, from the plan: the forced command a node runs for its
// NAS's key (Guard), the syncoid command line the NAS pulls with
// (Syncoid), sanoid's configuration (SanoidConfig) and the node's
// authorized_keys line (AuthorizedKey). The engines are sanoid and
// syncoid (github.com/jimsalterjrs/sanoid); bakc only decides their
// arguments and what may reach them. docs/replication.md says why the
// NAS pulls.
//
// What syncoid runs over ssh on the source was read from syncoid 2.1.0
// (Debian bookworm), 2.2.0 and 2.3.0 (nixpkgs), with the flags of
// SyncoidArgs; Guard allows exactly those commands and no others.
package replication

// Package zfs is bakc's own small interface over the zfs(8) command.
//
// Every call goes through one place (Runner.run): exec.CommandContext with
// an argv slice (never a shell string), stderr drained and kept for the
// error, the call logged with log/slog and timed, in the manner of zrepl.
// go-zfs (mistifyio/go-zfs/v3) is used where it works (property reads, see
// props.go), but it takes no context, cannot be pointed at another binary
// or namespace, and lists with `zfs list -Hp` and properties that zfs-fuse
// lacks; the runtime needs all three, hence this package.
//
// What it knows about the two ZFS implementations it meets:
//
//   - Kernel ZFS (OpenZFS): the zfs command mounts and unmounts in the
//     caller's own mount namespace.
//   - zfs-fuse (what the tests run on): the daemon mounts a dataset in ITS
//     mount namespace, while the zfs command unmounts (before a destroy)
//     in the caller's. From a private namespace that unmount misses the
//     daemon's mount and the destroy answers "dataset is busy" for as long
//     as the mount lives. So when a zfs-fuse daemon runs in another mount
//     namespace, the Runner runs every zfs command inside the daemon's
//     namespace (nsenter --mount), where mount and unmount agree. Which
//     namespace the daemon has, only a process with CAP_SYS_PTRACE may
//     read (a bakc unit has none): without it the Runner refuses every
//     command with a NamespaceError, before a snapshot is taken, rather
//     than guess and leave clones it cannot unmount.
//   - zfs-fuse answers "dataset is busy" for a moment after a mount went
//     away: Destroy retries that answer for a short while.
//   - zfs-fuse has no `zfs list -p`: List uses -H with names and
//     mountpoints only, which both implementations print the same.
package zfs

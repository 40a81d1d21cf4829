package namespace

import (
	"fmt"
	"os"
)

// Isolated reports whether this process runs in a mount namespace whose
// mounts reach no other namespace: one Enter made, or one systemd gave
// the service. The snapshot code refuses to mount over a dataset's path
// anywhere else, since the whole host would then see the snapshot there.
func Isolated() bool {
	ok, _ := isolated()
	return ok
}

// isolated is Isolated with the reason, for logs and tests.
//
// A namespace systemd made is recognised by two facts: it is not PID 1's,
// and none of its mounts is in a peer group that PID 1's namespace also
// has (systemd turns them all into slaves). Reading PID 1's namespace
// needs ptrace rights over it (root with CAP_SYS_PTRACE); without them
// the answer is no, and Enter re-executes, which is always safe.
func isolated() (bool, string) {
	current.Lock()
	entered := current.entered
	current.Unlock()
	if entered {
		return true, "made by Enter"
	}
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return false, fmt.Sprintf("cannot read own mount namespace: %v", err)
	}
	initNS, err := os.Readlink("/proc/1/ns/mnt")
	if err != nil {
		return false, fmt.Sprintf("cannot read PID 1's mount namespace: %v", err)
	}
	if own == initNS {
		return false, "same mount namespace as PID 1"
	}
	ours, err := Mounts()
	if err != nil {
		return false, fmt.Sprintf("reading own mounts: %v", err)
	}
	theirs, err := ReadMounts("/proc/1/mountinfo")
	if err != nil {
		return false, fmt.Sprintf("reading PID 1's mounts: %v", err)
	}
	if m, shared := sharesWith(ours, theirs); shared {
		return false, fmt.Sprintf("%s is in peer group %d with a mount of PID 1's namespace", m.Mountpoint, m.PeerGroup())
	}
	return true, "own mount namespace, nothing shared with PID 1's"
}

// sharesWith returns a mount of ours that propagates to (is in the same
// peer group as) a mount of theirs.
func sharesWith(ours, theirs []Mount) (Mount, bool) {
	groups := map[int]bool{}
	for _, m := range theirs {
		if g := m.PeerGroup(); g != 0 {
			groups[g] = true
		}
	}
	for _, m := range ours {
		if g := m.PeerGroup(); g != 0 && groups[g] {
			return m, true
		}
	}
	return Mount{}, false
}

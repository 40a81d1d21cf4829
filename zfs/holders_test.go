package zfs

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// A mount whose source is the dataset's name is found, with this
// process's mount namespace and the mountpoint; another name is not.
func TestMountHolders(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	name := "bakcholders" + strings.TrimPrefix(dir, "/tmp/")
	name = strings.ReplaceAll(name, "/", "_") + "/view"
	require.NoError(t, syscall.Mount(name, dir, "tmpfs", 0, "size=1m"))
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	ns, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	held := mountHolders(name)
	require.NotEmpty(t, held)
	require.Contains(t, strings.Join(held, "\n"), ns)
	require.Contains(t, strings.Join(held, "\n"), " at "+dir)
	require.Empty(t, mountHolders(name+"-other"))
}

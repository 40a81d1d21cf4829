package runtime

import "golang.org/x/sys/unix"

func mountTmpfs(source, dir string) error { return unix.Mount(source, dir, "tmpfs", 0, "size=1m") }

func unmount(dir string) { unix.Unmount(dir, unix.MNT_DETACH) }

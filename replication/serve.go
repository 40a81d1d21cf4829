package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// GuardPath is the PATH the guard looks zfs up in, whatever sshd gave
// it: NixOS's system profile first, then the usual places.
const GuardPath = "/run/current-system/sw/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Serve carries out one request of the NAS (the line sshd put in
// SSH_ORIGINAL_COMMAND) as g decides, and returns the exit code for
// sshd to hand back: zfs's own, 1 for a refusal. zfs is the program to
// run for "zfs" ("" looks it up in GuardPath); its standard output goes
// to stdout unchanged (a zfs send stream) or filtered (a snapshot list),
// its errors to stderr. A refusal is said on stderr, which syncoid shows
// in its output on the NAS.
func Serve(ctx context.Context, g Guard, line, zfs string, stdout, stderr io.Writer) int {
	a, err := g.Decide(line)
	if err != nil {
		fmt.Fprintf(stderr, "bakc send-guard: %v\n", err)
		return 1
	}
	if len(a.Argv) == 0 {
		return a.Exit
	}
	if zfs == "" {
		zfs, err = lookPath("zfs", GuardPath)
		if err != nil {
			fmt.Fprintf(stderr, "bakc send-guard: %v\n", err)
			return 1
		}
	}
	cmd := exec.CommandContext(ctx, zfs, a.Argv[1:]...)
	cmd.Env = []string{"PATH=" + GuardPath, "LC_ALL=C"}
	cmd.Stdin = nil
	cmd.Stderr = stderr
	var out bytes.Buffer
	if a.FilterSnapshotsOf == "" {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = &out
	}
	err = cmd.Run()
	if a.FilterSnapshotsOf != "" {
		io.WriteString(stdout, SnapshotLines(out.String(), a.FilterSnapshotsOf))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return ee.ExitCode()
	}
	fmt.Fprintf(stderr, "bakc send-guard: %v\n", err)
	return 1
}

// lookPath finds an executable file named name in the folders of path,
// without reading the environment's PATH.
func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", name, path)
}

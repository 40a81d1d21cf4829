package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// sockcat is a database client in miniature, for a dump: it connects to
// the unix socket named by its argument and copies what the server sends
// to stdout. It fails as a client does when nothing listens there.
func sockcat() int {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bakc-test-sockcat SOCKET")
		return 2
	}
	c, err := net.Dial("unix", os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bakc-test-sockcat: cannot connect to the database: %v\n", err)
		return 1
	}
	defer c.Close()
	if _, err := io.Copy(os.Stdout, c); err != nil {
		fmt.Fprintf(os.Stderr, "bakc-test-sockcat: %v\n", err)
		return 1
	}
	return 0
}

// serveSocket listens on a unix socket at path and answers every
// connection with answer; it stops when the test ends.
func serveSocket(t *testing.T, path, answer string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(answer))
			c.Close()
		}
	}()
}

// A ZFS snapshot job's dump talks to the live system, never to the
// snapshot: here the database's unix socket lies under the job's path, as
// MariaDB's /var/lib/mysql/mysql.sock does in a /var/lib job. While the
// snapshot's view is shown there, the socket at that path is the
// snapshot's copy, which no server listens on, and the dump fails
// ("connection refused"); the dump program, or a file it reads, under the
// path would be the snapshot's copy too. bakc runs the dumps before the
// snapshot is taken, so the dump reaches the live server, and its restic
// snapshot is older than the paths' one. Nothing is left mounted.
//
// Before the fix (dumps ran after the paths' backup, with the views
// shown), the run failed with exit code 3: "dump db: the command … failed:
// exit status 1 (last output: bakc-test-sockcat: cannot connect to the
// database: … connection refused)".
func TestRunBackupZFSDumpSeesTheLiveSystem(t *testing.T) {
	testenv.Root(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			n := newZFSNode(t, r)
			n.job().Retention = plan.Retention{Last: 10}
			const answer = "-- dumped by the live database server\n"
			serveSocket(t, filepath.Join(n.data, "mysql.sock"), answer)
			n.job().Dumps = []plan.Dump{{
				Name: "db", Command: []string{"bakc-test-sockcat", filepath.Join(n.data, "mysql.sock")},
				Filename: "mariadb/all.sql", Tag: "dump:db",
			}}
			n.savePlan()

			require.Equal(t, 0, n.backup())

			snaps := n.snapshots()
			require.Len(t, snaps, 2, "a snapshot of the paths and one of the dump")
			var dumpAt, pathsAt int
			for i, s := range snaps {
				if slices.Contains(s.Tags, "dump:db") {
					dumpAt = i
				} else {
					pathsAt = i
				}
			}
			require.Equal(t, []string{"/mariadb/all.sql"}, snaps[dumpAt].Paths)
			require.Equal(t, []string{n.data}, snaps[pathsAt].Paths)
			if !snaps[dumpAt].Time.Before(snaps[pathsAt].Time) {
				t.Errorf("the dump's snapshot (%v) is not older than the paths' (%v): the dump did not run before the ZFS snapshot",
					snaps[dumpAt].Time, snaps[pathsAt].Time)
			}
			var got bytes.Buffer
			err := n.resticAsRoot().Run(context.Background(), []string{"dump", "--no-lock", snaps[dumpAt].ID, "/mariadb/all.sql"}, func(l []byte) {
				got.Write(l)
				got.WriteByte('\n')
			})
			require.NoError(t, err)
			require.Equal(t, answer, got.String())
			if left := n.leftovers(); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

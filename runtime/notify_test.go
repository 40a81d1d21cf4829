package runtime_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// Progress reaches systemd through the real sd_notify protocol: a
// datagram socket named by NOTIFY_SOCKET, as systemd makes one, read here.
// Every phase is announced, and restic's status lines (files, bytes,
// percentage) while it backs up; the terminal gets the same line. restic
// reads a sparse file far too big to finish, so that it is still running
// when its status lines come (two a second, the first after half a
// second); the run is stopped once systemd got one.
func TestProgressToSystemdAndTerminal(t *testing.T) {
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	big, err := os.Create(filepath.Join(f.src, "big"))
	require.NoError(t, err)
	require.NoError(t, big.Truncate(1<<40))
	require.NoError(t, big.Close())

	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	var (
		mu       sync.Mutex
		received []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			received = append(received, string(buf[:n]))
			mu.Unlock()
			if strings.Contains(string(buf[:n]), ": done, exit code") {
				return // the last status a run sends
			}
		}
	}()

	var term strings.Builder
	o := f.options()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	o.Notify = func(state string) error {
		if strings.Contains(state, " files · ") {
			stop()
		}
		_, err := daemon.SdNotify(false, state)
		return err
	}
	o.Out, o.Terminal = &term, true
	rep, err := runtime.Backup(ctx, f.plan, "home", o)
	require.NoError(t, err)
	require.Equal(t, runtime.ExitInterrupted, rep.ExitCode, "%v", rep.Failures)
	// The last datagrams may still wait in the socket: read them all
	// before looking, and give up after a while if "done" never comes.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	<-done

	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(received, "\n")
	for _, want := range []string{
		"STATUS=home: preflight",
		"STATUS=home: backing up to local",
		"STATUS=home: done, exit code 8",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("systemd did not get %q; got:\n%s", want, all)
		}
	}
	if !strings.Contains(all, "STATUS=home: backing up to local: ") || !strings.Contains(all, " files · ") {
		t.Errorf("systemd got no progress line with files and bytes; got:\n%s", all)
	}
	if !strings.Contains(term.String(), "\r\x1b[2Klocal: ") || !strings.Contains(term.String(), " files · ") {
		t.Errorf("terminal got no progress line: %q", term.String())
	}
}

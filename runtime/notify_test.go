package runtime_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// Progress reaches systemd through the real sd_notify protocol: a
// datagram socket named by NOTIFY_SOCKET, as systemd makes one, read here.
// Every phase is announced, and restic's status lines (files, bytes,
// percentage) while it backs up; the terminal gets the same line.
func TestProgressToSystemdAndTerminal(t *testing.T) {
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	// Enough data that restic prints status lines at 2 per second.
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i * 7919 >> 8)
	}
	f.write("big", string(big))

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
		}
	}()

	var term strings.Builder
	o := f.options()
	o.Notify = func(state string) error { _, err := daemon.SdNotify(false, state); return err }
	o.Out, o.Terminal = &term, true
	rep, err := runtime.Backup(context.Background(), f.plan, "home", o)
	require.NoError(t, err)
	require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
	conn.Close()
	<-done

	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(received, "\n")
	for _, want := range []string{
		"STATUS=home: preflight",
		"STATUS=home: backing up to local",
		"STATUS=home: applying retention in local",
		"STATUS=home: done, exit code 0",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("systemd did not get %q; got:\n%s", want, all)
		}
	}
	if !strings.Contains(all, "STATUS=home: backing up to local: ") || !strings.Contains(all, " files · ") {
		t.Errorf("systemd got no progress line with files and bytes; got:\n%s", all)
	}
	if !strings.Contains(term.String(), "\r\x1b[2Klocal: ") || !strings.Contains(term.String(), "MiB") {
		t.Errorf("terminal got no progress line: %q", term.String())
	}
}

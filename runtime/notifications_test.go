package runtime_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// hit is one request a notification server received.
type hit struct {
	path, body, title string
}

// notifyServer is an HTTP server on 127.0.0.1 that records what it is
// sent and answers as behave says.
type notifyServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newNotifyServer(t *testing.T, behave func(w http.ResponseWriter, r *http.Request)) *notifyServer {
	s := &notifyServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits = append(s.hits, hit{path: r.URL.Path, body: string(body), title: r.Header.Get("Title")})
		s.mu.Unlock()
		behave(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *notifyServer) got() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

// refusedURL is an http URL on 127.0.0.1 where nothing listens: the
// port of a listener just closed.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// A job's notifications against a real HTTP server on 127.0.0.1, with a
// real restic backup each time: the server answers, answers late,
// refuses the connection, answers 500. The ping URL hears /start and
// then success; whatever the server does, the backup is the same (exit
// code 0, a snapshot, complete metrics, the state's last success), each
// call waits at most the timeout, and each failed call is one error
// line with phase notify, and nothing else is.
func TestNotificationsNeverFailTheBackup(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	slowDone := make(chan struct{})
	t.Cleanup(func() { close(slowDone) })
	tests := []struct {
		name string
		// url is the ping URL; server, when set, made it.
		url    func(t *testing.T) (string, *notifyServer)
		failed int // error lines of phase notify: /start and success
		// cat is their category.
		cat restic.Category
	}{
		{name: "success", url: func(t *testing.T) (string, *notifyServer) {
			s := newNotifyServer(t, ok)
			return s.URL + "/ping/abc", s
		}},
		{name: "slow", failed: 2, cat: restic.CategoryNetwork, url: func(t *testing.T) (string, *notifyServer) {
			s := newNotifyServer(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-slowDone:
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
			})
			return s.URL + "/ping/abc", s
		}},
		{name: "refusing", failed: 2, cat: restic.CategoryNetwork, url: func(t *testing.T) (string, *notifyServer) {
			return refusedURL(t) + "/ping/abc", nil
		}},
		{name: "500", failed: 2, cat: restic.CategoryNetwork, url: func(t *testing.T) (string, *notifyServer) {
			s := newNotifyServer(t, func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "down for maintenance", http.StatusInternalServerError)
			})
			return s.URL + "/ping/abc", s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, r)
			url, server := tt.url(t)
			f.job().Notify = &plan.Notify{PingURL: url, Timeout: "1s"}

			began := time.Now()
			rep := f.backup(f.options())
			took := time.Since(began)

			require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v", rep.Failures)
			require.Empty(t, rep.Failures)
			require.Len(t, f.snapshots("local"), 1)
			got := f.metrics()
			require.Equal(t, 1.0, got[m("bakc_backup_result", "home", "local", "result", "complete")])
			require.NotZero(t, got[m("bakc_backup_last_success_timestamp_seconds", "home", "local")])
			require.Equal(t, 0.0, got[`bakc_backup_exit_code{job="home"}`])
			// Two calls of at most 1 s each, and the backup itself.
			require.Less(t, took, 20*time.Second, "the slow server held the run")

			var notify []runtime.ErrorLine
			for _, l := range f.errorLines() {
				require.Equal(t, runtime.PhaseNotify, l.Phase, "an error line that is not a notification's: %+v", l)
				notify = append(notify, l)
			}
			require.Len(t, notify, tt.failed, "error lines: %+v", notify)
			for _, l := range notify {
				require.Equal(t, tt.cat, l.Category)
				require.Equal(t, "home", l.Job)
				require.NotContains(t, l.Message, "/ping/abc", "the ping URL is its check's secret")
			}
			if tt.name == "slow" {
				require.Contains(t, notify[0].Message, "no answer within 1s")
			}
			if tt.name == "500" {
				require.Contains(t, notify[0].Message, "HTTP 500")
			}
			if server != nil {
				hits := server.got()
				require.Len(t, hits, 2)
				require.Equal(t, "/ping/abc/start", hits[0].path)
				require.Equal(t, "/ping/abc", hits[1].path)
				require.Contains(t, hits[1].body, "bakc: backup home on forge succeeded")
			}
		})
	}
}

// A failed backup is reported to every channel: the ping URL's /fail
// with the failure as its body, the failure URL as ntfy reads a message
// (body, Title, Priority), and the failure command with the message on
// stdin and in its environment, as the backup user. The run's own
// failure is unchanged: its exit code, category and error line.
func TestNotificationsOfAFailure(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	ping := newNotifyServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	ntfy := newNotifyServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	// The command runs as the backup user, without restic's capability:
	// it must reach its script and its folder.
	require.NoError(t, os.Chmod(f.dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(f.dir), 0o755))
	out := filepath.Join(f.dir, "notified")
	require.NoError(t, os.Mkdir(out, 0o777))
	require.NoError(t, os.Chmod(out, 0o777))
	script := filepath.Join(f.dir, "notify.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nid -u > \"$1/uid\"\ncat > \"$1/stdin\"\nprintf '%s|%s|%s|%s' \"$BAKC_NODE\" \"$BAKC_JOB\" \"$BAKC_CATEGORY\" \"$BAKC_ERROR\" > \"$1/env\"\n"), 0o755))
	f.job().Notify = &plan.Notify{PingURL: ping.URL + "/c/1", FailureURL: ntfy.URL + "/backups", FailureCommand: []string{script, out}, Timeout: "5s"}
	require.NoError(t, os.WriteFile(f.repository("local").PasswordFile, []byte("not the password\n"), 0o600))

	rep := f.backup(f.options())
	require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode)
	require.Len(t, rep.Failures, 1)
	require.Equal(t, restic.CategoryAuth, rep.Failures[0].Category)
	for _, l := range f.errorLines() {
		require.NotEqual(t, runtime.PhaseNotify, l.Phase, "every notification worked: %+v", l)
	}

	hits := ping.got()
	require.Len(t, hits, 2)
	require.Equal(t, "/c/1/start", hits[0].path)
	require.Equal(t, "/c/1/fail", hits[1].path)
	require.Contains(t, hits[1].body, "bakc: backup home on forge failed (exit code 3)")
	require.Contains(t, hits[1].body, "[auth]")

	posts := ntfy.got()
	require.Len(t, posts, 1)
	require.Equal(t, "/backups", posts[0].path)
	require.Equal(t, "bakc: backup home on forge failed", posts[0].title)
	require.Equal(t, hits[1].body, posts[0].body)

	uid, err := os.ReadFile(filepath.Join(out, "uid"))
	require.NoError(t, err)
	require.Equal(t, "2049", strings.TrimSpace(string(uid)), "the command runs as the backup user")
	stdin, err := os.ReadFile(filepath.Join(out, "stdin"))
	require.NoError(t, err)
	require.Equal(t, hits[1].body, string(stdin))
	env, err := os.ReadFile(filepath.Join(out, "env"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(env), "forge|home|auth|bakc: backup home on forge failed"), "environment: %s", env)
}

// A failure command that fails or hangs is an error line of its own; the
// hanging one is killed at the timeout.
func TestNotificationCommandFails(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	for _, tt := range []struct {
		name, script, want string
	}{
		{"exits 3", "#!/bin/sh\necho no route to pager >&2\nexit 3\n", "exit status 3: no route to pager"},
		{"hangs", "#!/bin/sh\nsleep 60\n", "did not end within 1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, r)
			require.NoError(t, os.Chmod(f.dir, 0o755))
			require.NoError(t, os.Chmod(filepath.Dir(f.dir), 0o755))
			script := filepath.Join(f.dir, "notify.sh")
			require.NoError(t, os.WriteFile(script, []byte(tt.script), 0o755))
			f.job().Notify = &plan.Notify{FailureCommand: []string{script}, Timeout: "1s"}
			require.NoError(t, os.WriteFile(f.repository("local").PasswordFile, []byte("not the password\n"), 0o600))
			began := time.Now()
			rep := f.backup(f.options())
			require.Less(t, time.Since(began), 20*time.Second)
			require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode)
			lines := f.errorLines()
			require.Len(t, lines, 2, "the backup's failure and the command's: %+v", lines)
			require.Equal(t, runtime.PhaseBackup, lines[0].Phase)
			require.Equal(t, runtime.PhaseNotify, lines[1].Phase)
			require.Contains(t, lines[1].Message, tt.want)
		})
	}
}

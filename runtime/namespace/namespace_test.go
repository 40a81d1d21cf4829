package namespace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/internal/testenv"
)

// The test binary plays bakc: started with scenarioEnv set, TestMain
// calls Enter like `bakc run` does, and the child half runs a scenario.
const (
	scenarioEnv  = "BAKC_NS_TEST_SCENARIO"
	dirEnv       = "BAKC_NS_TEST_DIR"
	shareRootEnv = "BAKC_NS_TEST_SHARE_ROOT"
)

func TestMain(m *testing.M) {
	if s := os.Getenv(scenarioEnv); s != "" {
		os.Exit(runScenario(s))
	}
	os.Exit(m.Run())
}

func runScenario(name string) int {
	inChild, code, err := Enter(context.Background(), WithShareRoot(os.Getenv(shareRootEnv)))
	if err != nil {
		fmt.Println("enter:", err)
		return 99
	}
	if !inChild {
		return code
	}
	if !Isolated() {
		fmt.Println("child: Isolated() = false")
		return 98
	}
	if v, ok := os.LookupEnv(envParentNS); ok {
		fmt.Println("child: marker still in the environment:", v)
		return 97
	}
	switch name {
	case "mount":
		return scenarioMount()
	case "signal":
		return scenarioSignal()
	case "exit":
		return 7
	case "kill-self":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	fmt.Println("unknown scenario", name)
	return 96
}

// scenarioMount mounts a tmpfs over the test's folder, then answers the
// parent's questions on stdin until it closes.
func scenarioMount() int {
	dir := os.Getenv(dirEnv)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		fmt.Println("mount:", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "inside"), []byte("x"), 0o644); err != nil {
		fmt.Println("write:", err)
		return 1
	}
	fmt.Println("ready", ShareDir())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch f := strings.Fields(in.Text()); f[0] {
		case "read":
			data, err := os.ReadFile(f[1])
			fmt.Printf("read %q %v\n", data, err)
		}
	}
	return 0
}

// scenarioSignal waits for SIGTERM and exits 42 when it comes.
func scenarioSignal() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	fmt.Println("ready")
	<-sigs
	fmt.Println("got SIGTERM")
	return 42
}

// bakc is one started scenario: the test binary as Enter's parent.
type bakc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func start(t *testing.T, scenario string, env ...string) *bakc {
	t.Helper()
	testenv.Root(t)
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{scenarioEnv + "=" + scenario}, env...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	b := &bakc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return b
}

// line reads the next line the child prints.
func (b *bakc) line(t *testing.T) string {
	t.Helper()
	l, err := b.out.ReadString('\n')
	require.NoError(t, err, "reading from the child (got %q)", l)
	return strings.TrimSuffix(l, "\n")
}

// exit waits for Enter's parent and returns its exit code.
func (b *bakc) exit(t *testing.T) int {
	t.Helper()
	rest, _ := io.ReadAll(b.out)
	err := b.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if len(rest) > 0 {
		t.Logf("child printed after the last line read: %s", rest)
	}
	return b.cmd.ProcessState.ExitCode()
}

func mountedAt(t *testing.T, dir string) bool {
	t.Helper()
	mounts, err := Mounts()
	require.NoError(t, err)
	for _, m := range mounts {
		if m.Mountpoint == dir || strings.HasPrefix(m.Mountpoint, dir+"/") {
			return true
		}
	}
	return false
}

func TestEnterIsolatesMounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "target")
	require.NoError(t, os.Mkdir(dir, 0o755))
	shareRoot := filepath.Join(t.TempDir(), "share")
	b := start(t, "mount", dirEnv+"="+dir, shareRootEnv+"="+shareRoot)

	ready := strings.Fields(b.line(t))
	require.Len(t, ready, 2, "want 'ready SHAREDIR', got %v", ready)
	share := ready[1]

	// The child's mount is not here.
	if mountedAt(t, dir) {
		t.Errorf("the child's mount at %s is visible outside its namespace", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "inside")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file the child wrote on its tmpfs is visible outside: %v", err)
	}

	// What this namespace mounts below the share folder reaches the
	// child: how the zfs-fuse daemon's clones get there.
	if filepath.Dir(share) != shareRoot {
		t.Fatalf("share folder %s is not below the share root %s", share, shareRoot)
	}
	outside := filepath.Join(share, "from-outside")
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, unix.Mount("tmpfs", outside, "tmpfs", 0, "size=1m"))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "hello"), []byte("hi"), 0o644))
	fmt.Fprintf(b.in, "read %s\n", filepath.Join(outside, "hello"))
	if got := b.line(t); got != `read "hi" <nil>` {
		t.Errorf("the child does not see a mount made outside below the share folder: %s", got)
	}
	require.NoError(t, unix.Unmount(outside, 0))
	require.NoError(t, os.Remove(outside))

	b.in.Close()
	if code := b.exit(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if mountedAt(t, shareRoot) {
		t.Errorf("the share folder is still mounted after the run")
	}
	if _, err := os.Stat(share); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the share folder is still there after the run: %v", err)
	}
}

func TestEnterForwardsSIGTERM(t *testing.T) {
	b := start(t, "signal", shareRootEnv+"="+t.TempDir())
	require.Equal(t, "ready", b.line(t))
	// Only Enter's parent gets the signal; the child hears of it by
	// forwarding alone.
	require.NoError(t, b.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, "got SIGTERM", b.line(t))
	if code := b.exit(t); code != 42 {
		t.Errorf("exit code %d, want the child's 42", code)
	}
}

func TestEnterPassesExitCodes(t *testing.T) {
	for _, tt := range []struct {
		scenario string
		want     int
	}{
		{"exit", 7},
		{"kill-self", 128 + int(syscall.SIGKILL)},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			b := start(t, tt.scenario, shareRootEnv+"="+t.TempDir())
			b.in.Close()
			if code := b.exit(t); code != tt.want {
				t.Errorf("exit code %d, want %d", code, tt.want)
			}
		})
	}
}

// A parent killed before it could clean up leaves its share folder (a
// shared bind mount); the next run removes it.
func TestStaleShareFolderRemoved(t *testing.T) {
	testenv.Root(t)
	shareRoot := t.TempDir()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	stale := filepath.Join(shareRoot, strconv.Itoa(dead.Process.Pid))
	require.NoError(t, os.Mkdir(stale, 0o700))
	require.NoError(t, unix.Mount(stale, stale, "", unix.MS_BIND, ""))
	require.NoError(t, unix.Mount("", stale, "", unix.MS_SHARED, ""))
	t.Cleanup(func() { unix.Unmount(stale, unix.MNT_DETACH) })

	b := start(t, "exit", shareRootEnv+"="+shareRoot)
	b.in.Close()
	require.Equal(t, 7, b.exit(t))
	if mountedAt(t, stale) {
		t.Errorf("stale share folder still mounted")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale share folder still there: %v", err)
	}
}

func TestTestProcessIsNotIsolated(t *testing.T) {
	// go test runs in the host's namespace here: Expose must refuse.
	ok, why := isolated()
	if ok {
		t.Errorf("isolated() = true (%s) in the test process", why)
	}
	t.Logf("why not: %s", why)
}

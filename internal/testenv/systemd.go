package testenv

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// DumpedUnit is one unit as systemd itself loaded it: each setting's
// name and the values it printed for it, in its own dump format
// (Description, RequiresMountsFor, ReadWritePaths, User, …; ExecStart
// holds the "Command Line:" of each command).
type DumpedUnit map[string][]string

// SystemdDump loads the unit files in dir, together with the system's
// own units, in systemd's test mode (`systemd --test --system
// --unit=UNIT`: the real unit file parser, no PID 1 needed) and returns
// every unit of UNIT's start transaction as systemd dumped it. It is the
// only way on a machine without a running systemd to see what systemd
// reads back from a unit file: `systemd-analyze verify` checks but
// prints nothing, and `systemd-analyze dump` needs PID 1.
//
// systemd refuses test mode as root, so as root it runs as nobody; the
// unit files are copied to a world-readable folder first.
func SystemdDump(t testing.TB, dir, unit string) map[string]DumpedUnit {
	t.Helper()
	bin := ""
	for _, p := range []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			bin = p
			break
		}
	}
	if bin == "" {
		missing(t, "systemd (the manager binary, for its --test mode) not found")
	}
	tmp, err := os.MkdirTemp("", "bakc-systemd-dump-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	units := filepath.Join(tmp, "units")
	if err := os.Mkdir(units, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(units, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "--test", "--system", "--unit="+unit, "--no-pager", "--log-target=console", "--log-level=warning")
	cmd.Env = []string{"SYSTEMD_UNIT_PATH=" + units + ":", "HOME=" + tmp, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("systemd --test --unit=%s: %v\n%s%s", unit, err, stderr.String(), tail(stdout.String(), 40))
	}
	return parseSystemdDump(stdout.String())
}

// parseSystemdDump reads the "-> By units:" part of systemd's dump: a
// "\t-> Unit NAME:" line per unit, then "\t\tKey: value" lines, and
// "\t\t-> ExecStart:" blocks with "\t\t\tCommand Line: …".
func parseSystemdDump(out string) map[string]DumpedUnit {
	units := map[string]DumpedUnit{}
	var cur DumpedUnit
	block := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "\t-> Unit ") && strings.HasSuffix(line, ":"):
			cur = DumpedUnit{}
			units[strings.TrimSuffix(strings.TrimPrefix(line, "\t-> Unit "), ":")] = cur
			block = ""
		case !strings.HasPrefix(line, "\t"):
			cur = nil // "-> By jobs:" and the log lines
		case cur == nil:
		case strings.HasPrefix(line, "\t\t-> ") && strings.HasSuffix(line, ":"):
			block = strings.TrimSuffix(strings.TrimPrefix(line, "\t\t-> "), ":")
		case strings.HasPrefix(line, "\t\t\t"):
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "\t\t\t"), ": "); ok && k == "Command Line" && block != "" {
				cur[block] = append(cur[block], v)
			}
		case strings.HasPrefix(line, "\t\t"):
			block = ""
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, "\t\t"), ": "); ok {
				cur[k] = append(cur[k], v)
			}
		}
	}
	return units
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ParseCommandLine splits a "Command Line:" of SystemdDump into its
// words. systemd prints each word bare or in double quotes, with \\, \",
// \$ and \` escaped and control characters as C escapes (\n, \t, \033)
// (quote_command_line with SHELL_ESCAPE_EMPTY in src/basic/escape.c).
func ParseCommandLine(s string) []string {
	var words []string
	var b strings.Builder
	in, started := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !in && c == ' ':
			if started {
				words = append(words, b.String())
				b.Reset()
				started = false
			}
		case c == '"':
			in = !in
			started = true
		case in && c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			case 'x':
				if i+2 < len(s) {
					var v byte
					for _, h := range []byte(s[i+1 : i+3]) {
						v <<= 4
						switch {
						case h >= '0' && h <= '9':
							v |= h - '0'
						case h >= 'a' && h <= 'f':
							v |= h - 'a' + 10
						case h >= 'A' && h <= 'F':
							v |= h - 'A' + 10
						}
					}
					b.WriteByte(v)
					i += 2
				}
			case '0', '1', '2', '3':
				// cescape_char writes other control characters in octal.
				if i+2 < len(s) {
					b.WriteByte((e-'0')<<6 | (s[i+1]-'0')<<3 | (s[i+2] - '0'))
					i += 2
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			started = true
		}
	}
	if started {
		words = append(words, b.String())
	}
	return words
}

// SystemdVerify runs `systemd-analyze verify` on the unit files of dir,
// installed into /etc/systemd/system of a scratch root that also holds a
// copy of the system's own units (so that dependencies such as
// network-online.target resolve) and an executable stand-in at each of
// executables, so that verify can check every ExecStart= program. It
// verifies the units by name, the way systemd would load them on the
// host, and returns verify's output and error; verify prints nothing
// for units it accepts.
func SystemdVerify(t testing.TB, dir string, executables ...string) (string, error) {
	t.Helper()
	analyze := SystemdAnalyze(t)
	root := t.TempDir()
	var sysUnits string
	for _, d := range []string{"/lib/systemd/system", "/usr/lib/systemd/system"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			sysUnits = d
			break
		}
	}
	if sysUnits == "" {
		missing(t, "the system's unit folder (/lib/systemd/system) not found")
	}
	inRoot := filepath.Join(root, strings.TrimPrefix(sysUnits, "/"))
	if err := os.MkdirAll(filepath.Dir(inRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", sysUnits, inRoot).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", sysUnits, err, out)
	}
	etc := filepath.Join(root, "etc", "systemd", "system")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isUnitName(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
	}
	if len(names) == 0 {
		t.Fatalf("no unit files in %s", dir)
	}
	for _, x := range executables {
		p := filepath.Join(root, x)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"verify", "--man=no", "--root=" + root}, names...)
	out, err := exec.Command(analyze, args...).CombinedOutput()
	return string(out), err
}

func isUnitName(name string) bool {
	for _, s := range []string{".service", ".timer", ".mount", ".automount", ".target", ".socket", ".path"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SopsVersion is the sops test-setup.sh builds (go install
// github.com/getsops/sops/v3/cmd/sops@v3.13.3).
const SopsVersion = "3.13.3"

// Sops returns the path of the sops test-setup.sh builds into the cache.
func Sops(t testing.TB) string {
	t.Helper()
	p := filepath.Join(CacheDir(), "sops-"+SopsVersion, "sops")
	if _, err := os.Stat(p); err != nil {
		missing(t, "sops %s not found at %s", SopsVersion, p)
	}
	return p
}

// AgeKey makes an age identity with Debian's age-keygen in dir/name and
// returns the file and its public key (the recipient, age1…).
func AgeKey(t testing.TB, dir, name string) (file, recipient string) {
	t.Helper()
	keygen := LookPath(t, "age-keygen")
	file = filepath.Join(dir, name)
	if out, err := exec.Command(keygen, "-o", file).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	out, err := exec.Command(keygen, "-y", file).Output()
	if err != nil {
		t.Fatalf("age-keygen -y: %v", err)
	}
	return file, strings.TrimSpace(string(out))
}

// SopsEncrypt encrypts plaintext (YAML) with the real sops for
// recipient and writes it to file.
func SopsEncrypt(t testing.TB, file, recipient, plaintext string) {
	t.Helper()
	cmd := exec.Command(Sops(t), "encrypt", "--age", recipient, "--filename-override", file, "/dev/stdin")
	cmd.Stdin = strings.NewReader(plaintext)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops encrypt: %v", err)
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

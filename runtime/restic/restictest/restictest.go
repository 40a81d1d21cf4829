// Package restictest makes real restic repositories for tests, quickly.
//
// A repository made by `restic init` carries a key whose scrypt parameters
// were calibrated to take half a second, and every restic command pays
// that half second again to open the repository. Tests run hundreds of
// restic commands, so InitRepo makes each version's repository once (kept
// in testenv.CacheDir()) with the real `restic init`, then replaces its
// key by the same master key sealed under cheap scrypt parameters
// (N=1024, r=8, p=1), as restic's own tests lower their KDF, and copies
// it for each test. Everything else about the repository is restic's own;
// the copies share the repository ID, which is harmless as long as each
// test gives restic its own cache folder (or --no-cache), which every
// helper here and the runtime's tests do.
package restictest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/holthome/bakc/internal/testenv"
)

// Password is the password of every repository InitRepo makes.
const Password = "correct horse battery staple"

var (
	templatesMu sync.Mutex
	templates   = map[string]string{} // restic path → template folder
	binaries    = map[string]string{} // restic path → copy anyone may run
	binRoot     string                // folder of the copies, mode 0755
)

// Cleanup removes the restic copies of this process (see Restics); call
// it from TestMain after m.Run (see Main).
func Cleanup() {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if binRoot != "" {
		os.RemoveAll(binRoot)
		binRoot = ""
		clear(binaries)
	}
}

// Restics is testenv.Restics with each binary copied to a folder every
// user may enter. The runtime, run as root, starts restic as the backup
// user, and execve looks up the binary with that user's rights before the
// ambient capability applies; restic 0.18 lives under /root/.cache here
// (on NixOS it is in the world-readable /nix/store).
func Restics(t testing.TB) []testenv.Restic {
	t.Helper()
	rs := testenv.Restics(t)
	templatesMu.Lock()
	defer templatesMu.Unlock()
	for i, r := range rs {
		if p, ok := binaries[r.Path]; ok {
			rs[i].Path = p
			continue
		}
		if binRoot == "" {
			dir, err := os.MkdirTemp("", "bakc-restic-bin-")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			binRoot = dir
		}
		data, err := os.ReadFile(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(binRoot, "restic-"+r.Version)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		binaries[r.Path] = p
		rs[i].Path = p
	}
	return rs
}

// Main runs the tests and removes the restic copies: use it as
// `func TestMain(m *testing.M) { restictest.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// PasswordFile writes Password to a file in the test's temp folder and
// returns its path.
func PasswordFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(p, []byte(Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// InitRepo makes an initialised repository for restic r at dir (which
// must not exist yet; its parent must), with password Password.
func InitRepo(t testing.TB, r testenv.Restic, dir string) {
	t.Helper()
	tmpl, err := template(r)
	if err != nil {
		t.Fatalf("restic %s template repository: %v", r.Version, err)
	}
	if err := os.CopyFS(dir, os.DirFS(tmpl)); err != nil {
		t.Fatalf("copying template repository: %v", err)
	}
}

// template returns the folder of r's template repository, making it on
// first use. Templates are kept in testenv.CacheDir() across test runs
// (restic init calibrates its key derivation for seconds), one per
// restic version, made in a temporary folder and renamed into place so
// that test processes running at the same time never see half of one.
func template(r testenv.Restic) (string, error) {
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if dir, ok := templates[r.Path]; ok {
		return dir, nil
	}
	root := filepath.Join(testenv.CacheDir(), "restic-templates")
	final := filepath.Join(root, r.Version)
	if _, err := os.Stat(filepath.Join(final, "repo", "config")); err == nil {
		templates[r.Path] = filepath.Join(final, "repo")
		return templates[r.Path], nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, r.Version+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	dir := filepath.Join(tmp, "repo")
	pw := filepath.Join(tmp, "password")
	if err := os.WriteFile(pw, []byte(Password+"\n"), 0o600); err != nil {
		return "", err
	}
	out, err := exec.Command(r.Path, "--repo", dir, "--password-file", pw, "--no-cache", "init").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("restic init: %v\n%s", err, out)
	}
	if err := cheapenKey(dir, Password); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another process was quicker; its template is as good.
		if _, serr := os.Stat(filepath.Join(final, "repo", "config")); serr != nil {
			return "", err
		}
	}
	templates[r.Path] = filepath.Join(final, "repo")
	return templates[r.Path], nil
}

// keyFile is restic's key file (doc/design.rst, "Keys, Encryption and MAC").
type keyFile struct {
	Created  time.Time `json:"created"`
	Username string    `json:"username"`
	Hostname string    `json:"hostname"`
	KDF      string    `json:"kdf"`
	N        int       `json:"N"`
	R        int       `json:"r"`
	P        int       `json:"p"`
	Salt     []byte    `json:"salt"`
	Data     []byte    `json:"data"`
}

// cheapenKey replaces the repository's only key by one holding the same
// master key under cheap scrypt parameters.
func cheapenKey(repo, password string) error {
	keys, err := filepath.Glob(filepath.Join(repo, "keys", "*"))
	if err != nil || len(keys) != 1 {
		return fmt.Errorf("want one key in %s, found %d (%v)", repo, len(keys), err)
	}
	raw, err := os.ReadFile(keys[0])
	if err != nil {
		return err
	}
	var k keyFile
	if err := json.Unmarshal(raw, &k); err != nil {
		return fmt.Errorf("%s: %w", keys[0], err)
	}
	user, err := deriveUserKey(password, k.Salt, k.N, k.R, k.P)
	if err != nil {
		return err
	}
	master, err := user.open(k.Data)
	if err != nil {
		return fmt.Errorf("opening %s: %w", keys[0], err)
	}

	k.N, k.R, k.P = 1024, 8, 1
	k.Salt = make([]byte, 64)
	rand.Read(k.Salt)
	user, err = deriveUserKey(password, k.Salt, k.N, k.R, k.P)
	if err != nil {
		return err
	}
	k.Data = user.seal(master)
	out, err := json.Marshal(k)
	if err != nil {
		return err
	}
	// A key file is named after the SHA-256 of its contents.
	sum := sha256.Sum256(out)
	name := filepath.Join(repo, "keys", hex.EncodeToString(sum[:]))
	if err := os.WriteFile(name, out, 0o400); err != nil {
		return err
	}
	return os.Remove(keys[0])
}

// cryptoKey is restic's crypto.Key: AES-256-CTR plus Poly1305-AES.
type cryptoKey struct {
	enc  [32]byte
	macK [16]byte // AES-128 key encrypting the nonce
	macR [16]byte // Poly1305 r
}

func deriveUserKey(password string, salt []byte, n, r, p int) (*cryptoKey, error) {
	b, err := scrypt.Key([]byte(password), salt, n, r, p, 64)
	if err != nil {
		return nil, err
	}
	var k cryptoKey
	copy(k.enc[:], b[:32])
	copy(k.macK[:], b[32:48])
	copy(k.macR[:], b[48:64])
	return &k, nil
}

func (k *cryptoKey) mac(nonce, msg []byte) [16]byte {
	var pk [32]byte
	c, err := aes.NewCipher(k.macK[:])
	if err != nil {
		panic(err)
	}
	c.Encrypt(pk[16:], nonce)
	copy(pk[:16], k.macR[:])
	var out [16]byte
	poly1305.Sum(&out, msg, &pk)
	return out
}

// open reads nonce ‖ ciphertext ‖ mac.
func (k *cryptoKey) open(data []byte) ([]byte, error) {
	if len(data) < 32 {
		return nil, fmt.Errorf("ciphertext too short")
	}
	nonce, ct, tag := data[:16], data[16:len(data)-16], data[len(data)-16:]
	want := k.mac(nonce, ct)
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		return nil, fmt.Errorf("wrong password (MAC mismatch)")
	}
	c, err := aes.NewCipher(k.enc[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(ct))
	cipher.NewCTR(c, nonce).XORKeyStream(out, ct)
	return out, nil
}

// seal writes nonce ‖ ciphertext ‖ mac.
func (k *cryptoKey) seal(plain []byte) []byte {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	c, err := aes.NewCipher(k.enc[:])
	if err != nil {
		panic(err)
	}
	ct := make([]byte, len(plain))
	cipher.NewCTR(c, nonce).XORKeyStream(ct, plain)
	tag := k.mac(nonce, ct)
	return append(append(nonce, ct...), tag[:]...)
}

// ChownTree gives every file below dir to uid:gid, as a repository
// written by the backup user would be.
func ChownTree(t testing.TB, dir string, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

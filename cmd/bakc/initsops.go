package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/atomicfile"
)

// A new node's secrets go into its sops file with the real sops, so that
// the file is encrypted for exactly the recipients the fleet's
// .sops.yaml gives it, as any other file the user encrypts. No value is
// ever on sops's command line (other users see command lines in /proc)
// nor in a file in plain text: sops reads it from its standard input.

// Keys of the secrets bakc init writes, in the node's sops file.
const (
	initPasswordKey = "bakc/restic_password"
)

// sopsRunner runs sops with the user's environment (their age key:
// SOPS_AGE_KEY_FILE, ~/.config/sops/age/keys.txt) in the folder of the
// file, so that sops finds the .sops.yaml that governs it.
type sopsRunner struct {
	binary string
}

// run runs sops with args and stdin, in dir, and returns its stdout.
// Errors carry sops's stderr, which names files and keys, never values.
func (s sopsRunner) run(dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(s.binary, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("sops %s: %s", args[0], msg)
	}
	return stdout.Bytes(), nil
}

// sopsKeys returns which of keys an encrypted YAML file has, read from
// its ciphertext (keys are plaintext in a sops file), and whether the
// file exists.
func sopsKeys(file string, keys []string) (have map[string]bool, exists bool, err error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var tree map[string]any
	if err := yaml.Unmarshal(data, &tree); err != nil || tree["sops"] == nil {
		return nil, true, fmt.Errorf("%s is not a YAML file encrypted by sops", file)
	}
	have = map[string]bool{}
	for _, k := range keys {
		var cur any = tree
		found := true
		for _, name := range strings.Split(k, "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				found = false
				break
			}
			if cur, ok = m[name]; !ok {
				found = false
				break
			}
		}
		have[k] = found
	}
	return have, true, nil
}

// addSecrets puts the values into the sops file at file (absolute),
// creating it when it does not exist. It never replaces a key the file
// has: the caller passes only missing ones.
func (s sopsRunner) addSecrets(file string, values map[string]string, exists bool) error {
	dir := filepath.Dir(file)
	if !exists {
		// sops runs in the nearest folder that exists (it looks for
		// .sops.yaml from there up); the file's folder is made only
		// once sops has encrypted.
		cwd := dir
		for {
			if st, err := os.Stat(cwd); err == nil && st.IsDir() {
				break
			}
			cwd = filepath.Dir(cwd)
		}
		doc := map[string]any{}
		for k, v := range values {
			level := doc
			parts := strings.Split(k, "/")
			for _, p := range parts[:len(parts)-1] {
				next, ok := level[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					level[p] = next
				}
				level = next
			}
			level[parts[len(parts)-1]] = v
		}
		plain, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		out, err := s.run(cwd, plain, "encrypt", "--input-type", "yaml", "--output-type", "yaml", "--filename-override", file, "/dev/stdin")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return atomicfile.Write(file, out, 0o644)
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		value, err := json.Marshal(values[k])
		if err != nil {
			return err
		}
		if _, err := s.run(dir, value, "set", "--value-stdin", file, plan.SopsIndex(k)); err != nil {
			return err
		}
	}
	return nil
}

// decrypt returns the value of key in file.
func (s sopsRunner) decrypt(file, key string) (string, error) {
	out, err := s.run(filepath.Dir(file), nil, "decrypt", "--extract", plan.SopsIndex(key), file)
	return string(out), err
}

// newPassword is a restic password: 32 random bytes, base64 without
// padding (43 characters that need no quoting anywhere).
func newPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

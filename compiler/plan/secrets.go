package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Secret is a secret file of the node that bakc declares to a secrets
// tool, so that the tool puts it where the plan's repositories read it:
// a repository's password_file, environment_file or ssh identity_file
// written as { sops = …, key = … } in the configuration. The plan holds
// where the secret comes from and the path it is put at, never its
// value. Secrets given as a plain path are not listed here: the node
// provides them itself (the runbook says which files must exist).
//
// The file belongs to the backup user and its group, mode SecretMode:
// every secret a repository has is read by the backup user (restic
// reads the password file, ssh the identity file, the runtime of the
// verify, prune and restore test services the environment file), and
// only the backup user's services read them (docs/security.md).
type Secret struct {
	// Name is the secret's name in the secrets tool (sops-nix's
	// sops.secrets."<name>"): bakc/<repository>/<role>, see SecretName.
	Name string `json:"name"`
	// Path is where the tool puts the decrypted file on the node: the
	// path a repository field of the plan names. Known before the node
	// is built (SecretPath), so that the plan can name it.
	Path string `json:"path"`
	// Sops says which key of which sops-encrypted file of the fleet the
	// secret is.
	Sops *Sops `json:"sops,omitempty"`
}

// Sops is a key of a sops-encrypted file.
type Sops struct {
	// File is the encrypted file, relative to the fleet's root and
	// slash-separated (as Source is); it may start with "../" when the
	// secrets live next to the fleet's folder.
	File string `json:"file"`
	// Key is the key in the file as sops-nix names it, "/" between the
	// levels of nested maps ("restic/password"); empty for the formats
	// whose whole file is the secret (binary, dotenv, ini).
	Key string `json:"key,omitempty"`
	// Format is one of SopsFormats, as sops-nix reads the file.
	Format string `json:"format"`
}

// sops-nix's formats (modules/sops/default.nix, the secret's format
// option).
const (
	SopsYAML   = "yaml"
	SopsJSON   = "json"
	SopsBinary = "binary"
	SopsDotenv = "dotenv"
	SopsINI    = "ini"
)

// SopsFormats are the formats sops-nix reads.
var SopsFormats = []string{SopsBinary, SopsDotenv, SopsINI, SopsJSON, SopsYAML}

// SopsFormatOf is the format of a sops file by its name, as sops itself
// decides it when no --input-type is given: .yaml and .yml are YAML,
// .json JSON, .env dotenv, .ini INI, anything else binary.
func SopsFormatOf(file string) string {
	switch strings.ToLower(path.Ext(file)) {
	case ".yaml", ".yml":
		return SopsYAML
	case ".json":
		return SopsJSON
	case ".env":
		return SopsDotenv
	case ".ini":
		return SopsINI
	}
	return SopsBinary
}

// SopsKeyed reports whether a format has keys: a secret of a YAML or
// JSON file is the value of one key, of the others the whole file
// (sops-nix ignores the key for them).
func SopsKeyed(format string) bool { return format == SopsYAML || format == SopsJSON }

// Roles of a repository's secrets, the last part of their names.
const (
	SecretPassword    = "password"
	SecretEnvironment = "environment"
	SecretSSHIdentity = "ssh-identity"
)

// SecretsDir is where sops-nix puts the secrets it decrypts (its
// secrets' default path is /run/secrets/<name>, and bakc sets exactly
// that, so that sops-nix makes no symlink and the path is known here).
const SecretsDir = "/run/secrets"

// SecretMode is the mode of every secret file bakc declares: read by
// its owner, the backup user, only.
const SecretMode = "0400"

// SecretName is the name bakc gives the secret of a repository's role:
// bakc/<repository>/<role>. Two repositories that use the same key of
// the same file get a secret each, so that the path of each is known
// from its own repository.
func SecretName(repository, role string) string {
	return "bakc/" + repository + "/" + role
}

// SecretPath is where the secret named name is put on the node.
func SecretPath(name string) string { return SecretsDir + "/" + name }

// sopsKeyRE is a key bakc gives sops-nix: levels split at "/", each a
// plain name (sops-nix splits at "/" and has no way to escape one), so
// that sops --extract can name it too.
var sopsKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

// CheckSopsKey accepts a key of a sops YAML or JSON file as bakc
// writes it.
func CheckSopsKey(key string) error {
	if !sopsKeyRE.MatchString(key) {
		return fmt.Errorf("%q is not a key bakc names: levels of letters, digits, \"_\", \".\" and \"-\", split by \"/\"", key)
	}
	return nil
}

// CheckSopsFile accepts a sops file's name as the plan holds it:
// relative to the fleet root, slash-separated, clean, on one line; "../"
// only at its start.
func CheckSopsFile(file string) error {
	switch {
	case file == "":
		return errors.New("is empty")
	case strings.HasPrefix(file, "/"):
		return fmt.Errorf("%q is absolute; a sops file is named relative to the fleet's root", file)
	case path.Clean(file) != file:
		return fmt.Errorf("%q is not in its clean form %q", file, path.Clean(file))
	}
	rest := file
	for strings.HasPrefix(rest, "../") {
		rest = strings.TrimPrefix(rest, "../")
	}
	if rest == ".." || rest == "." || strings.Contains("/"+rest+"/", "/../") {
		return fmt.Errorf("%q names a folder, or goes up after going down", file)
	}
	return checkLine(file)
}

// checkSecretName accepts SecretName's names.
func checkSecretName(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] != "bakc" || CheckName(NameRepository, parts[1]) != nil ||
		(parts[2] != SecretPassword && parts[2] != SecretEnvironment && parts[2] != SecretSSHIdentity) {
		return fmt.Errorf("%q is not a name bakc gives a secret (bakc/<repository>/%s, %s or %s)", s, SecretPassword, SecretEnvironment, SecretSSHIdentity)
	}
	return nil
}

// checkSecrets relates the secrets to the repositories: sorted by
// name, each at its SecretPath, each the file of the repository field
// its name says, and keys where the format has keys.
func checkSecrets(v *validator, p *Plan) {
	repos := map[string]*Repository{}
	for i := range p.Repositories {
		repos[p.Repositories[i].Name] = &p.Repositories[i]
	}
	for i := range p.Secrets {
		s := &p.Secrets[i]
		field := fmt.Sprintf("secrets[%d]", i)
		if v.failed[field+".name"] {
			continue
		}
		if i > 0 && s.Name <= p.Secrets[i-1].Name {
			v.fail(field+".name", fmt.Errorf("%q comes after %q: secrets are sorted by name, each once", s.Name, p.Secrets[i-1].Name))
		}
		if s.Path != SecretPath(s.Name) {
			v.fail(field+".path", fmt.Errorf("%q is not %q, the path of the secret %q", s.Path, SecretPath(s.Name), s.Name))
		}
		parts := strings.Split(s.Name, "/")
		r := repos[parts[1]]
		if r == nil {
			v.fail(field+".name", fmt.Errorf("%q names no repository of the plan", s.Name))
			continue
		}
		var reads string
		switch parts[2] {
		case SecretPassword:
			reads = r.PasswordFile
		case SecretEnvironment:
			reads = r.EnvironmentFile
		case SecretSSHIdentity:
			if r.SSH != nil {
				reads = r.SSH.IdentityFile
			}
		}
		if reads != s.Path {
			v.fail(field+".path", fmt.Errorf("the repository %s reads %q as its %s, not the secret's %q", r.Name, reads, parts[2], s.Path))
		}
		if s.Sops == nil {
			v.fail(field+".sops", errors.New("is required: it says where the secret comes from"))
			continue
		}
		if SopsKeyed(s.Sops.Format) != (s.Sops.Key != "") && !v.failed[field+".sops.format"] {
			if s.Sops.Key == "" {
				v.fail(field+".sops.key", fmt.Errorf("is required for a %s file", s.Sops.Format))
			} else {
				v.fail(field+".sops.key", fmt.Errorf("is given, but sops-nix ignores the key of a %s file (its whole file is the secret)", s.Sops.Format))
			}
		}
	}
}

// SopsIndex is a sops key as sops's own commands name it (sops decrypt
// --extract, sops set): ["restic"]["password"] for restic/password.
func SopsIndex(key string) string {
	var b strings.Builder
	for _, level := range strings.Split(key, "/") {
		q, _ := json.Marshal(level)
		b.WriteString("[" + string(q) + "]")
	}
	return b.String()
}

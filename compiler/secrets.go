package compiler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"go.yaml.in/yaml/v3"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// A repository's secrets (its password, its environment of cloud
// credentials, an sftp repository's ssh key) are files on the node, and
// the plan holds only their paths. A secret is written either as the
// path of a file the node provides itself, or as a key of a
// sops-encrypted file of the fleet, which backup.nix declares to
// sops-nix (sops.secrets."bakc/<repository>/<role>") with the backup user
// as owner and mode 0400, at a path bakc chooses (plan.SecretPath), so
// that the plan can name it before the node is built.
//
// A sops secret is checked here as sops-nix checks it when the node is
// built (sops-install-secrets -check-mode=sopsfile): the file exists, is
// encrypted by sops (it has sops's metadata: a plaintext file would put
// the secret in the repository and the Nix store), and has the key. Keys
// are plaintext in a sops file, so none of this decrypts anything.

// lowerSecret checks one secret of repository repo and returns the path
// the plan names for it; a sops secret is recorded for the plan's
// Secrets. what names it in messages ("password file"); role is its
// plan.Secret role.
func (s *nodeScope) lowerSecret(file *schema.Text, sops *schema.Sops, repo, role, what string) (string, hcl.Diagnostics) {
	if sops == nil {
		if d := checkSecretFile(file, what); d.HasErrors() {
			return "", d
		}
		return file.Value, nil
	}
	secret, diags := s.lowerSops(sops, what)
	if diags.HasErrors() {
		return "", diags
	}
	name := plan.SecretName(repo, role)
	secret.Name, secret.Path = name, plan.SecretPath(name)
	s.secrets = append(s.secrets, secret)
	return secret.Path, diags
}

// lowerSops checks a sops secret's file and key.
func (s *nodeScope) lowerSops(sops *schema.Sops, what string) (plan.Secret, hcl.Diagnostics) {
	file := sops.File
	if err := plan.CheckSopsFile(file.Value); err != nil {
		detail := "The sops file of the %s is named relative to the fleet's root (the folder of bakc.hcl), slash-separated and clean, such as \"secrets/%s.yaml\" (\"../secrets/…\" for a folder beside the fleet): %s."
		return plan.Secret{}, hcl.Diagnostics{errorAt(file.Range, "Invalid sops file", detail, what, s.id.node.Name, err)}
	}
	out := &plan.Sops{File: file.Value, Format: plan.SopsFormatOf(file.Value)}
	keyed := plan.SopsKeyed(out.Format)
	switch {
	case keyed && sops.Key == nil:
		return plan.Secret{}, hcl.Diagnostics{errorAt(sops.Range, "Missing sops key",
			"The %s is a key of the %s file %q, but no key is given. Add key = \"…\", the key in the file (\"restic/password\" for restic: { password: … }).", what, out.Format, file.Value)}
	case !keyed && sops.Key != nil:
		return plan.Secret{}, hcl.Diagnostics{errorAt(sops.Key.Range, "Key of a whole-file secret",
			"%q is read by sops-nix as a %s file, whose whole content is the secret: sops-nix ignores a key there. Remove key, or use a YAML or JSON file (named .yaml, .yml or .json) to hold several secrets.", file.Value, out.Format)}
	case keyed:
		if err := plan.CheckSopsKey(sops.Key.Value); err != nil {
			return plan.Secret{}, hcl.Diagnostics{errorAt(sops.Key.Range, "Invalid sops key", "%s.", capitalize(err.Error()))}
		}
		out.Key = sops.Key.Value
	}
	if s.read != nil {
		if d := checkSopsContent(s.read, out, file, sops); d.HasErrors() {
			return plan.Secret{}, d
		}
	}
	return plan.Secret{Sops: out}, nil
}

// checkSopsContent reads the sops file and checks that it is encrypted by
// sops and holds the key.
func checkSopsContent(read func(string) ([]byte, error), out *plan.Sops, file *schema.Text, sops *schema.Sops) hcl.Diagnostics {
	data, err := read(out.File)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return hcl.Diagnostics{errorAt(file.Range, "Missing sops file",
				"There is no file %q in the fleet. Create it with sops (bakc init NODE writes a new node's), or fix the name: it is relative to the fleet's root.", out.File)}
		}
		return hcl.Diagnostics{errorAt(file.Range, "Cannot read sops file", "Reading %q failed: %s.", out.File, pathErrorCause(err))}
	}
	notSops := errorAt(file.Range, "Not a sops file",
		"%q is not encrypted by sops (it has no sops metadata), so sops-nix cannot decrypt it, and a secret in it would be in plain text in the repository and the Nix store. Encrypt it: sops encrypt --in-place %s.", out.File, out.File)
	var tree map[string]any
	switch out.Format {
	case plan.SopsYAML:
		if yaml.Unmarshal(data, &tree) != nil {
			return hcl.Diagnostics{notSops}
		}
	case plan.SopsJSON, plan.SopsBinary:
		if json.Unmarshal(data, &tree) != nil {
			return hcl.Diagnostics{notSops}
		}
	case plan.SopsDotenv:
		if !strings.Contains("\n"+string(data), "\nsops_mac=") {
			return hcl.Diagnostics{notSops}
		}
		return nil
	case plan.SopsINI:
		if !strings.Contains("\n"+string(data), "\n[sops]") {
			return hcl.Diagnostics{notSops}
		}
		return nil
	}
	if _, ok := tree["sops"].(map[string]any); !ok {
		return hcl.Diagnostics{notSops}
	}
	if out.Key == "" {
		return nil
	}
	// As sops-nix's recurseSecretKey walks it: maps by the levels of the
	// key, a string at the end.
	level := tree
	levels := strings.Split(out.Key, "/")
	for i, name := range levels {
		v, ok := level[name]
		here := strings.Join(levels[:i], "/")
		if !ok || (i == 0 && name == "sops") {
			var keys []string
			for k := range level {
				if !(i == 0 && k == "sops") {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			where := "at its top"
			if here != "" {
				where = fmt.Sprintf("under %q", here)
			}
			has := "no keys"
			if len(keys) > 0 {
				has = "the keys " + quotedList(keys)
			}
			return hcl.Diagnostics{errorAt(sops.Key.Range, "Unknown sops key",
				"%q has no key %q: it has %s %s. Add the secret with sops set %s '%s' …, or fix the key.", out.File, strings.Join(levels[:i+1], "/"), has, where, out.File, plan.SopsIndex(out.Key))}
		}
		if i == len(levels)-1 {
			if _, ok := v.(string); !ok {
				return hcl.Diagnostics{errorAt(sops.Key.Range, "Sops key is not a value",
					"%q holds a map or a list at %q, not a secret value; sops-nix writes only a value to a file. Name a key below it.", out.File, out.Key)}
			}
			break
		}
		m, ok := v.(map[string]any)
		if !ok {
			return hcl.Diagnostics{errorAt(sops.Key.Range, "Unknown sops key",
				"%q holds a value at %q, not a map of keys, so it has no %q.", out.File, strings.Join(levels[:i+1], "/"), out.Key)}
		}
		level = m
	}
	return nil
}

// readFleetFile reads a file named relative to the fleet's root
// (slash-separated), through the fleet's file system, or for one
// beside the fleet ("../secrets/…") from the disk.
func (f *Fleet) readFleetFile(rel string) ([]byte, error) {
	if !strings.HasPrefix(rel, "../") && f.fsys != nil {
		return fs.ReadFile(f.fsys, rel)
	}
	if f.rootAbs == "" {
		return nil, fmt.Errorf("%s is outside the fleet's folder, which is not on disk", rel)
	}
	return os.ReadFile(filepath.Join(f.rootAbs, filepath.FromSlash(rel)))
}

// SkipSecretFiles makes the checks that follow leave sops files unread
// (their existence, encryption and keys): bakc init checks the host file
// it is about to write before it puts the secrets that file names into
// the node's sops file.
func (f *Fleet) SkipSecretFiles() { f.skipSecretFiles = true }

// secretReader is how a node's checks read sops files: nil when they
// must not.
func (f *Fleet) secretReader() func(string) ([]byte, error) {
	if f.skipSecretFiles {
		return nil
	}
	return f.readFleetFile
}

// planSecrets are the sops secrets of the node's repositories that made
// it into the plan, sorted by name.
func (s *nodeScope) planSecrets() []plan.Secret {
	var out []plan.Secret
	for _, sec := range s.secrets {
		repo := strings.Split(sec.Name, "/")[1]
		if s.lowered[repo] != nil && s.repos[repo] != nil {
			out = append(out, sec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// pathErrorCause drops the path from a *fs.PathError, which the message
// names already.
func pathErrorCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

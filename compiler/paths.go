package compiler

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"

	"github.com/holthome/bakc/schema"
)

// checkAbsPath reports a path that is not absolute and clean. Paths are
// compared as strings everywhere (is one job path inside another, which
// dataset holds a path), which is only right for clean absolute paths;
// and a relative path in a unit would be resolved against a folder
// nobody chose.
func checkAbsPath(t *schema.Text, what string) hcl.Diagnostics {
	p := t.Value
	if !strings.HasPrefix(p, "/") {
		return hcl.Diagnostics{errorAt(t.Range, "Relative path",
			"The %s %q is not an absolute path. Services do not run in the folder of the configuration, so write the full path, starting with \"/\".", what, p)}
	}
	if clean := path.Clean(p); clean != p {
		return hcl.Diagnostics{errorAt(t.Range, "Unclean path",
			"The %s %q is not in its clean form (no trailing slash, no \"//\", \".\" or \"..\"), so it could not be compared with other paths reliably. Write %q.", what, p, clean)}
	}
	// Paths reach unit files (ReadWritePaths=, mount units), which have
	// limits of their own.
	if err := escape.CheckSystemdPath(p); err != nil {
		return hcl.Diagnostics{errorAt(t.Range, "Invalid path",
			"The %s %q cannot be written into a systemd unit: it %s. Choose a shorter path.", what, p, err)}
	}
	return nil
}

// nixStore is where NixOS keeps build results, readable by every user of
// the machine and copied around with every closure.
const nixStore = plan.NixStore

// checkSecretFile reports a secret file that is not an absolute clean
// path, or that lies in the Nix store, where anyone could read it.
func checkSecretFile(t *schema.Text, what string) hcl.Diagnostics {
	if d := checkAbsPath(t, what); d.HasErrors() {
		return d
	}
	if isUnder(t.Value, nixStore) {
		return hcl.Diagnostics{errorAt(t.Range, "Secret file in the Nix store",
			"The %s %q is in the Nix store, which every user of the machine can read and which is copied with every system closure. Keep secrets outside the store, for example with sops-nix or agenix under /run/secrets, and give bakc that path.", what, t.Value)}
	}
	return nil
}

// isUnder reports whether p is base or inside it; both clean and
// absolute.
func isUnder(p, base string) bool { return plan.IsUnder(p, base) }

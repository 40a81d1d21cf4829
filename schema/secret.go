package schema

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Sops is a secret that sops-nix decrypts on the node, written as the
// value of a secret attribute (password_file, environment_file, an ssh
// block's identity_file) instead of a path:
//
//	password_file = { sops = "secrets/forge.yaml", key = "restic/password" }
//
// File is the sops-encrypted file, relative to the fleet's root; Key
// the key in it (nil when not given).
type Sops struct {
	Range hcl.Range
	File  *Text
	Key   *Text
}

// sopsFields are the attributes of a sops secret's object.
var sopsFields = []string{"sops", "key"}

// decodeSecret decodes a secret attribute: a string is the path of a
// file the node provides itself, an object written out ({ sops = …,
// key = … }) a sops secret. At most one of the results is set.
func decodeSecret(attr *hcl.Attribute, ctx *hcl.EvalContext) (*Text, *Sops, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil, nil
	}
	items, d := hcl.ExprMap(attr.Expr)
	if d.HasErrors() {
		// Not an object written out: a path, or a mistake that
		// decodeText names ("string required").
		t, diags := decodeText(attr, ctx, singleLine)
		return t, nil, diags
	}
	s := &Sops{Range: attr.Expr.Range()}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, it := range items {
		name := hcl.ExprAsKeyword(it.Key)
		if name == "" {
			v, d := it.Key.Value(ctx)
			if d.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid secret",
					Detail:   fmt.Sprintf("The keys of %s's object are names: sops and key. Write { sops = \"secrets/node.yaml\", key = \"restic/password\" }.", attr.Name),
					Subject:  it.Key.Range().Ptr(),
				})
				continue
			}
			name = v.AsString()
		}
		field := &hcl.Attribute{Name: name, Expr: it.Value, Range: hcl.RangeBetween(it.Key.Range(), it.Value.Range()), NameRange: it.Key.Range()}
		switch {
		case seen[name]:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate secret field",
				Detail:   fmt.Sprintf("%s gives %q twice. Keep one.", attr.Name, name),
				Subject:  it.Key.Range().Ptr(),
			})
		case name == "sops":
			s.File, d = decodeText(field, ctx, singleLine)
			diags = append(diags, d...)
		case name == "key":
			s.Key, d = decodeText(field, ctx, singleLine)
			diags = append(diags, d...)
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid secret",
				Detail: fmt.Sprintf("A secret written as an object is a sops-nix secret, with the fields %s; %q is not one of them.%s Or write the path of a file the node provides as a string.",
					quoted(sopsFields), name, didYouMeanField(name)),
				Subject: it.Key.Range().Ptr(),
			})
		}
		seen[name] = true
	}
	if s.File == nil && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing sops file",
			Detail:   fmt.Sprintf("%s is written as a sops-nix secret but names no file. Add sops = \"secrets/<node>.yaml\", the sops-encrypted file relative to the fleet's root.", attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	if diags.HasErrors() {
		return nil, nil, diags
	}
	return nil, s, diags
}

// didYouMeanField suggests a sops secret's field for a name sops-nix
// users write.
func didYouMeanField(name string) string {
	switch name {
	case "sopsFile", "sops_file", "file":
		return " Write the file as sops = \"…\"."
	case "path", "owner", "group", "mode", "restartUnits", "format":
		return " bakc chooses the secret's " + name + " itself (see docs/security.md)."
	}
	return ""
}

func quoted(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += " and "
		}
		s += fmt.Sprintf("%q", n)
	}
	return s
}

package nixos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
)

// TestEveryAcceptedPlanPathHasAStoreName is issue 9, item 3: a plan path
// with a character a Nix store name cannot hold (a space, @, :, ', %…)
// compiled, and nixos-rebuild then failed with "store path
// '…-etc-bakc-zed plan.json' contains illegal character ' '", because
// NixOS names environment.etc's text after the path. Every plan path
// below, each printable ASCII character and some others in a file name,
// is given to the compiler; each one it accepts is rendered and
// evaluated with the real nix-instantiate, with NixOS's naming of
// environment.etc (nixosEtc) and a writeText whose store path Nix itself
// computes (builtins.toFile checks the name), and must evaluate. Those
// it refuses must be refused at the source.
func TestEveryAcceptedPlanPathHasAStoreName(t *testing.T) {
	var names []string
	for c := byte(0x20); c < 0x7f; c++ {
		if c != '/' {
			names = append(names, "plan"+string(c)+"x.json")
		}
	}
	names = append(names,
		"zed plan.json", "plan@forge.json", "a:b.json", "it's.json", "100%.json",
		"plan ${x} $1 \"q\" 100%.json", "plané.json", "plan\u00a0.json", "計画.json",
		".plan.json", "-plan.json", "sub folder/plan.json", "plan\\.json",
		// Refused at the source (control characters).
		"plan\nx.json", "plan\tx.json", "plan\x7fx.json",
	)
	accepted := 0
	for _, name := range names {
		planPath := "/etc/bakc/" + name
		p, refused := compilePlanPath(t, planPath)
		if refused != nil {
			for _, d := range refused {
				require.NotNil(t, d.Subject, "%q: %s is not located", planPath, d.Summary)
			}
			t.Logf("refused at the source: %q (%s)", planPath, refused[0].Summary)
			continue
		}
		accepted++
		module, err := Render(p)
		require.NoError(t, err, "%q", planPath)
		out, err := evaluate(t, module, standIns)
		if err != nil {
			t.Errorf("plan path %q: the compiler accepted it, NixOS would not: %v", planPath, err)
			continue
		}
		var got evaluated
		require.NoError(t, json.Unmarshal(out, &got))
		src := got.Environment.Etc[strings.TrimPrefix(planPath, "/etc/")].Source
		require.True(t, strings.HasPrefix(src.StorePath, "/nix/store/"), "%q: store path %q", planPath, src.StorePath)
	}
	t.Logf("accepted %d of %d plan paths", accepted, len(names))
	// Most of these are fine paths; a test that accepts none proves
	// nothing.
	require.Less(t, accepted, len(names), "the control characters must be refused")
	require.Greater(t, accepted, len(names)/2, "the compiler accepted only %d of %d plan paths", accepted, len(names))
}

// compilePlanPath compiles a one-node fleet whose plan is at planPath,
// and returns its plan, or the compiler's errors.
func compilePlanPath(t *testing.T, planPath string) (p *plan.Plan, refused []*hcl.Diagnostic) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		f := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(f), 0o755))
		require.NoError(t, os.WriteFile(f, []byte(content), 0o644))
	}
	write("bakc.hcl", "defaults {\n  retention {\n    daily = 7\n  }\n}\n")
	write("hosts/n.hcl", fmt.Sprintf(`node "n" {
  paths {
    plan = %s
  }
  repository "local" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
  }
  job "www" {
    paths = ["/srv/www"]
  }
}
`, hclString(planPath)))
	f, diags := compiler.LoadFleet(dir)
	if !diags.HasErrors() {
		p, d := f.Plan("n")
		diags = append(diags, d...)
		if !diags.HasErrors() {
			return p, nil
		}
	}
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			refused = append(refused, d)
		}
	}
	require.NotEmpty(t, refused)
	return nil, refused
}

// hclString is s as an HCL string literal: quotes and backslashes
// escaped, and the template sequences ${ and %{ doubled.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", "$${", "%{", "%%{", "\n", `\n`, "\t", `\t`, "\x7f", `\u007f`)
	return `"` + r.Replace(s) + `"`
}

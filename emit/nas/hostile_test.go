package nas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template/parse"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/templates"
)

// hostile are values that would run something (touch a marker file) or
// change the script's structure if they reached sh, an exports file, an
// authorized_keys line or Nix unquoted.
var hostile = []string{
	`it's`,
	`"double"`,
	`$(touch pwned)`,
	"`touch pwned`",
	`a; touch pwned`,
	"a\ntouch pwned",
	`${x:-$(touch pwned)}`,
	`a b`,
	`\'`,
	`''${x}`,
}

// TestValidateRejectsHostileValues puts each hostile value into each
// field of a plan that reaches an exports file, an authorized_keys line,
// a comment or a dataset name, where no quoting is trusted: Script and
// Nix must refuse the plan and produce nothing.
func TestValidateRejectsHostileValues(t *testing.T) {
	fields := map[string]func(p *plan.NASPlan, v string){
		"source":         func(p *plan.NASPlan, v string) { p.Sources[0] = v + "\n" },
		"nas name":       func(p *plan.NASPlan, v string) { p.NAS.Name = v },
		"nas address":    func(p *plan.NASPlan, v string) { p.NAS.Address = v },
		"parent":         func(p *plan.NASPlan, v string) { p.NAS.Parent = v },
		"mount root":     func(p *plan.NASPlan, v string) { p.NAS.MountRoot = "/srv/" + v },
		"node name":      func(p *plan.NASPlan, v string) { p.Nodes[0].Name = v },
		"node address":   func(p *plan.NASPlan, v string) { p.Nodes[0].Address = v },
		"dataset name":   func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].Name = v },
		"zfs name":       func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].ZFSName += v },
		"mountpoint":     func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].Mountpoint += v },
		"property name":  func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].Properties[0].Name = v },
		"export client":  func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].Export.Client = v },
		"export option":  func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].Export.Options[0] = v },
		"receive user":   func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[1].Receive.User = v },
		"receive from":   func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[1].Receive.From = v },
		"key type":       func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[1].Receive.PublicKey = v + " " + testKey },
		"key body":       func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[1].Receive.PublicKey = "ssh-ed25519 AAAA" + v },
		"key newline":    func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[1].Receive.PublicKey = testKey + "\n" + v },
		"permission":     func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[1].Receive.Permissions[0] = v },
		"property value": func(p *plan.NASPlan, v string) { p.Nodes[0].Datasets[0].Properties[0].Value = v + "\n" },
	}
	for field, set := range fields {
		for _, v := range hostile {
			p := testPlan("tank", "/srv/nas")
			set(p, v)
			for name, render := range map[string]func(*plan.NASPlan) ([]byte, error){"Script": Script, "Nix": Nix} {
				out, err := render(p)
				if err == nil || out != nil {
					t.Errorf("%s: %s %q: accepted (error %v), output:\n%s", name, field, v, err, out)
				}
			}
		}
	}
}

// TestValidateAcceptsTheExamples makes sure the checks above do not pass
// by refusing everything.
func TestValidateAcceptsTheExamples(t *testing.T) {
	require.NoError(t, validate(readNASPlan(t, exampleNAS)))
	require.NoError(t, validate(testPlan("tank", "/srv/nas")))
}

// TestHostileValuesNeverRun gives the values that can legitimately hold
// anything (ZFS user property values and the comment of a public key)
// every hostile value that zfs and ssh can store, runs the script and
// the NixOS boot script with sh on a real pool, and checks that nothing
// ran (no marker file anywhere it could be made) and that every value
// arrived byte for byte.
func TestHostileValuesNeverRun(t *testing.T) {
	n := newNAS(t)
	p := testPlan(n.pool, n.mountRoot)
	marker := filepath.Join(n.log, "pwned")
	values := []string{}
	for _, v := range hostile {
		if strings.Contains(v, "\n") {
			continue // refused above: a ZFS property value has no newline
		}
		values = append(values, strings.ReplaceAll(v, "pwned", marker))
	}
	restic := &p.Nodes[0].Datasets[0]
	for i, v := range values {
		restic.Properties = append(restic.Properties, plan.Property{Name: "bakc:hostile" + string(rune('a'+i)), Value: v})
	}
	recv := p.Nodes[0].Datasets[1].Receive
	recv.PublicKey = testKey + " " + strings.Join(values, " ")

	script, err := Script(p)
	require.NoError(t, err)
	n.run(t, script)
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a hostile value ran: %s exists", marker)
	}
	for i, v := range values {
		if diff := cmp.Diff(v+"\tlocal", zfsGet(t, restic.ZFSName, "bakc:hostile"+string(rune('a'+i)))); diff != "" {
			t.Errorf("property value (-want +got):\n%s", diff)
		}
	}
	key, err := os.ReadFile(n.root + "/home/" + recv.User + "/.ssh/authorized_keys")
	require.NoError(t, err)
	if diff := cmp.Diff(wantKey(recv)+"\n", string(key)); diff != "" {
		t.Errorf("authorized_keys (-want +got):\n%s", diff)
	}
	want := []string{"bakc nas-plan: nothing changed: nas-t is as configured for forge, luna"}
	if diff := cmp.Diff(want, n.run(t, script)); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}

	// The same values through Nix: the boot script as NixOS evaluates it.
	module, err := Nix(p)
	require.NoError(t, err)
	v := nixEval(t, module)
	if diff := cmp.Diff([]string{wantKey(recv)}, v.Users.Users[recv.User].OpenSSH.AuthorizedKeys.Keys); diff != "" {
		t.Errorf("Nix authorized key (-want +got):\n%s", diff)
	}
	zfsCmd(t, "inherit", "bakc:hostilea", restic.ZFSName)
	out := n.run(t, []byte(v.Systemd.Services[ServiceName("forge")].Script))
	if diff := cmp.Diff([]string{"changed: $POOL/backup/forge/restic: bakc:hostilea=" + values[0] + " (was -, -)", "bakc nas-plan: 1 changes made"}, out); diff != "" {
		t.Errorf("boot script (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a hostile value ran through Nix: %s exists", marker)
	}
}

// TestTemplatesQuoteEveryValue reads the templates' parse trees: every
// value a template prints into a command line must go through the
// escaping function of its language (sh in the script; nix, attr or
// lines in Nix). The only exceptions are comment lines (values there are
// checked to hold no line break) and the plain integers of an owner.
func TestTemplatesQuoteEveryValue(t *testing.T) {
	for file, quoting := range map[string]map[string]bool{
		scriptTemplate:      {"sh": true},
		"nas-plan.nix.tmpl": {"nix": true, "attr": true, "lines": true, "code": true},
	} {
		funcs := funcs
		if file != scriptTemplate {
			funcs = nixFuncs
		}
		tmpl, err := templates.Parse(file, funcs)
		require.NoError(t, err)
		checked := 0
		for _, tt := range tmpl.Templates() {
			line := ""
			var walk func(parse.Node)
			walk = func(node parse.Node) {
				switch x := node.(type) {
				case *parse.ListNode:
					if x == nil {
						return
					}
					for _, c := range x.Nodes {
						walk(c)
					}
				case *parse.TextNode:
					text := string(x.Text)
					if i := strings.LastIndexByte(text, '\n'); i >= 0 {
						line = text[i+1:]
					} else {
						line += text
					}
				case *parse.ActionNode:
					checked++
					cmd := x.Pipe.Cmds[0]
					fn, ok := cmd.Args[0].(*parse.IdentifierNode)
					switch {
					case len(x.Pipe.Decl) > 0:
						// a variable declaration prints nothing
					case strings.HasPrefix(strings.TrimSpace(line), "#"):
						// a comment line
					case ok && quoting[fn.Ident] && len(x.Pipe.Cmds) == 1:
					case !ok && (strings.HasSuffix(x.String(), ".Owner.UID}}") || strings.HasSuffix(x.String(), ".Owner.GID}}")):
					default:
						t.Errorf("%s: %s prints %s without quoting it (line so far: %q)", file, tt.Name(), x, line)
					}
					line += "X"
				case *parse.IfNode:
					walk(x.List)
					walk(x.ElseList)
				case *parse.RangeNode:
					walk(x.List)
					walk(x.ElseList)
				case *parse.WithNode:
					walk(x.List)
					walk(x.ElseList)
				case *parse.TemplateNode, *parse.CommentNode:
				default:
					t.Errorf("%s: unexpected template node %T: %s", file, node, node)
				}
			}
			if tt.Tree != nil {
				walk(tt.Tree.Root)
			}
		}
		if checked < 10 {
			t.Errorf("%s: only %d actions checked; is the walk broken?", file, checked)
		}
	}
}

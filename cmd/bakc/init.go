package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/atomicfile"
)

type initOptions struct {
	fleet    string
	address  string
	nas      string
	datasets []string
	paths    []string
	zfs      bool
	pools    []string
	sopsFile string
	sops     string
	json     bool
}

const initLong = `Make a new node ready: write its host file, hosts/NODE.hcl, from what the
fleet knows (its NAS and the datasets it exports, its defaults, the domain
of its other nodes' addresses), put a new restic password into the node's
sops file with sops, and print the steps that remain, in order. (ZFS
replication needs no key on the node: its NAS pulls with the NAS's own key,
docs/replication.md; add a replication block by hand to opt in.)

What the fleet cannot know comes from flags: the node's datasets from
--zfs (zfs list on the node itself; --pool limits it to some pools) or
--dataset MOUNTPOINT=DATASET, or the paths of a node without ZFS from
--path; its address from --address when the other nodes' addresses do not
show the domain.

The secrets go into --sops-file (default secrets/NODE.yaml, relative to
the fleet's root), encrypted by the real sops for the recipients the
fleet's .sops.yaml gives that file; adding to an existing file needs a key
that decrypts it (SOPS_AGE_KEY_FILE). No secret is printed, put on a
command line or written in plain text.

Running it again changes nothing and says so: an existing host file is
never rewritten, an existing secret never replaced. For an existing node,
init adds only the restic passwords its repositories name in sops that
the sops file does not have yet.

Exit codes:
  0  the node is ready (or was already)
  1  the fleet or the new host file has errors, or sops failed; nothing of
     the host file was written
  2  usage error`

func newInitCmd(e *env) *cobra.Command {
	var opts initOptions
	cmd := &cobra.Command{
		Use:   "init NODE",
		Short: "Write a new node's host file and secrets, and print the remaining steps",
		Long:  initLong,
		Example: `  bakc init luna --zfs                          # on luna itself
  bakc init luna --address luna.example.net --dataset /var/lib=tank/state`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("init needs the name of one node")
			}
			return runInit(e, opts, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.fleet, "fleet", ".", "a folder of the fleet (its bakc.hcl is found above it)")
	fl.StringVar(&opts.address, "address", "", "the node's address (default: NODE and the domain the other nodes' addresses share)")
	fl.StringVar(&opts.nas, "nas", "", "the node's NAS (default: the fleet's only NAS)")
	fl.StringArrayVar(&opts.datasets, "dataset", nil, "a ZFS dataset of the node, MOUNTPOINT=DATASET (repeatable)")
	fl.StringArrayVar(&opts.paths, "path", nil, "a path to back up, for a node without ZFS (repeatable)")
	fl.BoolVar(&opts.zfs, "zfs", false, "find the node's datasets with zfs list on this host (run init on the node)")
	fl.StringArrayVar(&opts.pools, "pool", nil, "with --zfs, only the datasets of this pool (repeatable)")
	fl.StringVar(&opts.sopsFile, "sops-file", "", "the node's sops file, relative to the fleet's root (default secrets/NODE.yaml)")
	fl.StringVar(&opts.sops, "sops", "sops", "the sops program")
	fl.BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

// newNode is what init decided about a new node.
type newNode struct {
	name, address, nas string
	// datasets maps mountpoint to dataset; paths are the job's paths.
	datasets  map[string]string
	paths     []string
	snapshot  bool
	exported  []string
	sopsFile  string
	retention bool
}

func runInit(e *env, opts initOptions, node string) error {
	if err := plan.CheckName(plan.NameNode, node); err != nil {
		return usageError("%q is not a node name: %v", node, err)
	}
	f, err := loadFleet(e, opts.fleet, opts.json)
	if err != nil {
		return err
	}
	root := f.RootDir()
	sopsFile := opts.sopsFile
	if sopsFile == "" {
		sopsFile = "secrets/" + node + ".yaml"
	}
	if err := plan.CheckSopsFile(sopsFile); err != nil || plan.SopsFormatOf(sopsFile) != plan.SopsYAML {
		return usageError("--sops-file %q: a YAML file (.yaml) relative to the fleet's root", sopsFile)
	}
	sops := sopsRunner{binary: opts.sops}
	out := &initReport{node: node}

	if file, exists := f.NodeFile(node); exists {
		out.hostFile = file
		if err := initExistingNode(e, opts, f, node, sops, out); err != nil {
			return err
		}
		out.print(e.stdout, f)
		return nil
	}

	n, err := decideNewNode(opts, f, node, sopsFile)
	if err != nil {
		return err
	}
	hostRel := "hosts/" + node + ".hcl"
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(hostRel))); err == nil {
		return fmt.Errorf("%s exists but declares no node %q; init does not rewrite it. Fix or remove it", hostRel, node)
	}

	// The host file is checked with the whole fleet before anything is
	// written (its sops file is read once the secrets are in it).
	if err := checkHostFile(e, opts, n, hostRel, renderHostFile(n), false); err != nil {
		return err
	}

	// The secrets.
	abs := filepath.Join(root, filepath.FromSlash(n.sopsFile))
	keys := []string{initPasswordKey}
	have, exists, err := sopsKeys(abs, keys)
	if err != nil {
		return err
	}
	values := map[string]string{}
	if !have[initPasswordKey] {
		if values[initPasswordKey], err = newPassword(); err != nil {
			return err
		}
	}
	if len(values) > 0 {
		if err := sops.addSecrets(abs, values, exists); err != nil {
			return err
		}
	}
	for _, k := range keys {
		out.secret(filepath.Join(f.Root(), n.sopsFile), k, values[k] != "")
	}

	// The host file, checked again with its secrets, then written.
	text := renderHostFile(n)
	if err := checkHostFile(e, opts, n, hostRel, text, true); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(root, filepath.FromSlash(hostRel)), text, 0o644); err != nil {
		return err
	}
	out.hostFile, out.wroteHost, out.n = filepath.Join(f.Root(), hostRel), true, n
	out.print(e.stdout, f)
	return nil
}

// decideNewNode takes what the fleet knows and the flags say.
func decideNewNode(opts initOptions, f *compiler.Fleet, node, sopsFile string) (*newNode, error) {
	n := &newNode{name: node, sopsFile: sopsFile, retention: !f.HasDefaultRetention()}
	facts := f.NASFacts()
	var nas *compiler.NASFacts
	switch {
	case opts.nas != "":
		for i := range facts {
			if facts[i].Name == opts.nas {
				nas = &facts[i]
			}
		}
		if nas == nil {
			return nil, usageError("--nas %q: the fleet has no such NAS", opts.nas)
		}
	case len(facts) == 1:
		nas = &facts[0]
	case len(facts) == 0:
		return nil, fmt.Errorf("the fleet declares no NAS, so init cannot choose a repository for %s: write its host file by hand (docs/language.md)", node)
	default:
		names := make([]string, len(facts))
		for i, x := range facts {
			names[i] = x.Name
		}
		return nil, usageError("the fleet has several NAS (%s): say which with --nas", strings.Join(names, ", "))
	}
	if len(nas.Exported) == 0 {
		return nil, fmt.Errorf("the NAS %s exports no dataset over NFS (export = \"nfs\"), so init has no repository for %s: add one to bakc.hcl, or write the host file by hand", nas.Name, node)
	}
	n.nas, n.exported = nas.Name, nas.Exported

	n.address = opts.address
	if n.address == "" {
		n.address = addressFromSiblings(f.NodeAddresses(), node)
		if n.address == "" {
			return nil, usageError("the other nodes' addresses do not show the fleet's domain, and %s exports datasets to the node's address: give it with --address", nas.Name)
		}
	}

	n.datasets = map[string]string{}
	for _, d := range opts.datasets {
		mp, ds, ok := strings.Cut(d, "=")
		if !ok || mp == "" || ds == "" {
			return nil, usageError("--dataset %q: write MOUNTPOINT=DATASET, such as /var/lib=tank/state", d)
		}
		n.datasets[mp] = ds
	}
	if opts.zfs {
		if len(opts.datasets) > 0 {
			return nil, usageError("--zfs and --dataset both say which datasets the node has: give one")
		}
		found, err := zfsDatasets(opts.pools)
		if err != nil {
			return nil, err
		}
		n.datasets = found
	}
	switch {
	case len(n.datasets) > 0 && len(opts.paths) > 0:
		return nil, usageError("--path is for a node without ZFS; its datasets' mountpoints are what is backed up")
	case len(n.datasets) > 0:
		n.paths, n.snapshot = topMountpoints(n.datasets), true
	case len(opts.paths) > 0:
		n.paths = append([]string(nil), opts.paths...)
		sort.Strings(n.paths)
	default:
		return nil, usageError("say what %s backs up: --zfs on the node itself, --dataset MOUNTPOINT=DATASET, or --path PATH for a node without ZFS", node)
	}
	return n, nil
}

// addressFromSiblings is node's address when every other node with an
// address has its name followed by one and the same domain
// (forge.example.net, luna.example.net), or "".
func addressFromSiblings(addresses map[string]string, node string) string {
	domain := ""
	for name, a := range addresses {
		d, ok := strings.CutPrefix(strings.ToLower(a), name+".")
		if !ok || d == "" || (domain != "" && d != domain) {
			return ""
		}
		domain = d
	}
	if domain == "" {
		return ""
	}
	return node + "." + domain
}

// zfsDatasets lists the mounted ZFS file systems of this host, as
// `zfs list -H -o name,mountpoint` prints them (zfs-fuse too), but those
// no backup wants: the root file system, the Nix store, /boot and the
// temporary folders. pools limits them to datasets of those pools.
func zfsDatasets(pools []string) (map[string]string, error) {
	args := []string{"list", "-H", "-o", "name,mountpoint", "-t", "filesystem"}
	if len(pools) > 0 {
		args = append(append(args, "-r"), pools...)
	}
	cmd := exec.Command("zfs", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("zfs list: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseZFSList(data), nil
}

// skippedMountpoints are the folders whose datasets init leaves out.
var skippedMountpoints = []string{"/nix", "/boot", "/tmp", "/var/tmp", "/run"}

func parseZFSList(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, mp, ok := strings.Cut(sc.Text(), "\t")
		if !ok || !strings.HasPrefix(mp, "/") || mp == "/" || path.Clean(mp) != mp {
			continue // none, legacy, -, or the root file system
		}
		skip := false
		for _, s := range skippedMountpoints {
			skip = skip || plan.IsUnder(mp, s)
		}
		if !skip {
			out[mp] = name
		}
	}
	return out
}

// topMountpoints are the mountpoints that are not below another: the
// job's paths (the snapshot of each holds the datasets below it).
func topMountpoints(datasets map[string]string) []string {
	var all, top []string
	for mp := range datasets {
		all = append(all, mp)
	}
	sort.Strings(all)
	for _, mp := range all {
		inside := false
		for _, t := range top {
			inside = inside || plan.IsUnder(mp, t)
		}
		if !inside {
			top = append(top, mp)
		}
	}
	return top
}

// renderHostFile writes the new node's host file with hclwrite, as bakc
// fmt would format it.
func renderHostFile(n *newNode) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.TokensForIdentifier("# Written by bakc init. Its secrets are in " + n.sopsFile + "."))
	body.AppendNewline()
	node := body.AppendNewBlock("node", []string{n.name}).Body()
	node.SetAttributeValue("address", cty.StringVal(n.address))
	node.SetAttributeValue("nas", cty.StringVal(n.nas))
	if len(n.datasets) > 0 {
		node.AppendNewline()
		zfs := node.AppendNewBlock("zfs", nil).Body()
		m := map[string]cty.Value{}
		for mp, ds := range n.datasets {
			m[mp] = cty.StringVal(ds)
		}
		zfs.SetAttributeValue("datasets", cty.MapVal(m))
	}
	password := sopsTokens(n.sopsFile, initPasswordKey)
	for _, ds := range n.exported {
		name, mp := "nas", "/mnt/nas-backup"
		if len(n.exported) > 1 {
			name, mp = "nas-"+ds, "/mnt/nas-backup-"+ds
		}
		node.AppendNewline()
		repo := node.AppendNewBlock("repository", []string{name}).Body()
		nfs := repo.AppendNewBlock("nfs", nil).Body()
		nfs.SetAttributeValue("dataset", cty.StringVal(ds))
		nfs.SetAttributeValue("mountpoint", cty.StringVal(mp))
		repo.SetAttributeRaw("password_file", password)
		repo.SetAttributeValue("init", cty.True)
	}
	node.AppendNewline()
	job := node.AppendNewBlock("job", []string{"system"}).Body()
	paths := make([]cty.Value, len(n.paths))
	for i, p := range n.paths {
		paths[i] = cty.StringVal(p)
	}
	job.SetAttributeValue("paths", cty.ListVal(paths))
	if n.snapshot {
		job.SetAttributeValue("snapshot", cty.StringVal("zfs"))
	}
	if n.retention {
		r := job.AppendNewBlock("retention", nil).Body()
		for _, kv := range []struct {
			k string
			v int64
		}{{"daily", 14}, {"weekly", 8}, {"monthly", 6}, {"yearly", 2}} {
			r.SetAttributeValue(kv.k, cty.NumberIntVal(kv.v))
		}
	}
	return hclwrite.Format(f.Bytes())
}

// sopsTokens is { sops = "FILE", key = "KEY" } on one line, sops first,
// as a person writes it (an object value would be sorted by key and
// spread over lines).
func sopsTokens(file, key string) hclwrite.Tokens {
	toks := hclwrite.Tokens{{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")}}
	for i, kv := range [][2]string{{"sops", file}, {"key", key}} {
		if i > 0 {
			toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")})
		}
		toks = append(toks, hclwrite.TokensForIdentifier(kv[0])...)
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenEqual, Bytes: []byte("=")})
		toks = append(toks, hclwrite.TokensForValue(cty.StringVal(kv[1]))...)
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}")})
}

// checkHostFile compiles the fleet with the new host file and prints the
// diagnostics; with errors nothing more is done.
func checkHostFile(e *env, opts initOptions, n *newNode, rel string, text []byte, readSecrets bool) error {
	f, diags := compiler.LoadFleetWith(opts.fleet, map[string][]byte{rel: text})
	if !readSecrets {
		f.SkipSecretFiles()
	}
	if !diags.HasErrors() {
		_, d := f.Plan(n.name)
		diags = append(diags, d...)
		if !d.HasErrors() {
			diags = append(diags, f.Validate()...)
		}
	}
	var shown hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError || readSecrets {
			shown = append(shown, d)
		}
	}
	printDiagnostics(e, f, shown, opts.json)
	if diags.HasErrors() {
		return fmt.Errorf("the host file init would write for %s has errors (above); nothing was written", n.name)
	}
	return nil
}

// initExistingNode adds the restic passwords an existing node's
// repositories take from sops and the sops files lack; it replaces
// nothing.
func initExistingNode(e *env, opts initOptions, f *compiler.Fleet, node string, sops sopsRunner, out *initReport) error {
	f.SkipSecretFiles()
	p, diags := f.Plan(node)
	printDiagnostics(e, f, diags, opts.json)
	if diags.HasErrors() {
		return silentExit(exitConfig)
	}
	byFile := map[string][]string{}
	for _, s := range p.Secrets {
		if strings.HasSuffix(s.Name, "/"+plan.SecretPassword) && s.Sops.Format == plan.SopsYAML {
			if !slices.Contains(byFile[s.Sops.File], s.Sops.Key) {
				byFile[s.Sops.File] = append(byFile[s.Sops.File], s.Sops.Key)
			}
		} else {
			out.other = append(out.other, s)
		}
	}
	for _, file := range slices.Sorted(maps.Keys(byFile)) {
		abs := filepath.Join(f.RootDir(), filepath.FromSlash(file))
		have, exists, err := sopsKeys(abs, byFile[file])
		if err != nil {
			return err
		}
		values := map[string]string{}
		for _, k := range byFile[file] {
			if !have[k] {
				if values[k], err = newPassword(); err != nil {
					return err
				}
			}
			out.secret(filepath.Join(f.Root(), file), k, !have[k])
		}
		if len(values) > 0 {
			if err := sops.addSecrets(abs, values, exists); err != nil {
				return err
			}
		}
	}
	return nil
}

// initReport is what init tells the user.
type initReport struct {
	node      string
	hostFile  string
	wroteHost bool
	n         *newNode
	lines     []string
	changed   bool
	other     []plan.Secret
}

func (r *initReport) secret(file, key string, added bool) {
	if added {
		r.changed = true
		r.lines = append(r.lines, fmt.Sprintf("  %s: added %s (new)", file, key))
	} else {
		r.lines = append(r.lines, fmt.Sprintf("  %s: %s is there; kept", file, key))
	}
}

func (r *initReport) print(w io.Writer, f *compiler.Fleet) {
	node := r.node
	if r.wroteHost {
		r.changed = true
		fmt.Fprintf(w, "bakc init %s:\n  wrote %s\n", node, r.hostFile)
	} else {
		fmt.Fprintf(w, "bakc init %s:\n  %s declares %s; kept as it is\n", node, r.hostFile, node)
	}
	for _, l := range r.lines {
		fmt.Fprintln(w, l)
	}
	for _, s := range r.other {
		fmt.Fprintf(w, "  %s: %s is a secret init does not make (%s); it must be there\n", s.Sops.File, s.Sops.Key, s.Name)
	}
	if !r.changed {
		fmt.Fprintf(w, "Nothing to do: %s is ready.\n", node)
	}
	if r.n == nil {
		return
	}
	n := r.n
	fmt.Fprintf(w, "\nThen, in this order:\n")
	sopsFile := filepath.Join(f.Root(), n.sopsFile)
	fmt.Fprintf(w, "  1. %s decrypts %s with its own key: if the rule for it in .sops.yaml does not list it yet, add it\n"+
		"     (ssh-to-age < /etc/ssh/ssh_host_ed25519_key.pub on %s) and run: sops updatekeys %s\n", node, sopsFile, node, sopsFile)
	fmt.Fprintf(w, "  2. bakc compile %s -o <%s's configuration>/backup.nix, and import it there\n", r.hostFile, node)
	fmt.Fprintf(w, "     with bakc's module and bakc.fleet set to this fleet's folder (docs/nixos.md)\n")
	fmt.Fprintf(w, "  3. on %s: bakc nas-plan %s > %s-nas.sh, review it, then sh %s-nas.sh\n", n.nas, node, node, node)
	fmt.Fprintf(w, "  4. on %s: nixos-rebuild switch (sops-nix puts the password at /run/secrets/bakc/…)\n", node)
	fmt.Fprintf(w, "  5. on %s, after the first backup (or systemctl start bakc-backup-system.service): bakc status\n", node)
}

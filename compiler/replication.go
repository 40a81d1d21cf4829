package compiler

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/replication"
	"github.com/holthome/bakc/schema"
)

// ZFS replication (docs/replication.md): the NAS pulls a node's datasets
// with syncoid, logging in with its own key to the node, where the key
// runs only bakc's guard; sanoid snapshots and prunes on the node, and
// prunes the copies on the NAS by the NAS's policy.

// defaultReplicationSchedule is when a NAS pulls, unless the node says.
const defaultReplicationSchedule = "hourly"

// Default policies: the node keeps a day of hourly snapshots and a week
// of dailies, and takes one weekly and one monthly snapshot for the NAS,
// which keeps a day of hourlies, a month of dailies, two months of
// weeklies and a year of monthlies.
var (
	defaultNodeSnapshots = plan.SnapshotPolicy{Hourly: 24, Daily: 7, Weekly: 1, Monthly: 1}
	defaultNASKeep       = plan.SnapshotPolicy{Hourly: 24, Daily: 30, Weekly: 8, Monthly: 12}
)

// shellWordRE is what syncoid can take in its arguments: it puts the key
// file and the ssh options into shell command lines without quoting
// them (replication.SyncoidArgs).
var shellWordRE = regexp.MustCompile(`^[A-Za-z0-9_./:,+@%=-]+$`)

// nasReplication is a NAS's checked replication block.
type nasReplication struct {
	decl         *schema.NASReplication
	identityFile string
	publicKey    string
	// from are the addresses the NAS connects from, sorted.
	from []string
	bad  bool
}

// checkNASReplication checks a NAS's replication block; address is the
// NAS's own (from's default when it is an IP address).
func checkNASReplication(r *schema.NASReplication, address *schema.Text) (*nasReplication, hcl.Diagnostics) {
	out := &nasReplication{decl: r}
	var diags hcl.Diagnostics
	if t := r.IdentityFile; t != nil {
		d := checkSecretFile(t, "replication identity file")
		if !d.HasErrors() && !shellWordRE.MatchString(t.Value) {
			d = hcl.Diagnostics{errorAt(t.Range, "Invalid identity file",
				"The identity file %q holds characters that syncoid, which puts the path into shell commands unquoted, would misread. Use a path of letters, digits and \"_./:,+@%%=-\", such as \"/run/secrets/bakc-replication-key\".", t.Value)}
		}
		diags = append(diags, d...)
		out.identityFile = t.Value
	}
	if t := r.PublicKey; t != nil {
		diags = append(diags, checkKeyLine(t, "Invalid replication key",
			"The NAS's replication public_key is not one OpenSSH public key line (\"ssh-ed25519 AAAA… comment\", the comment printable characters without a double quote) whose key data matches its type. Paste the .pub file of the key at identity_file, without options.")...)
		out.publicKey = t.Value
	}
	switch {
	case r.From != nil:
		if len(r.From.Items) == 0 {
			diags = append(diags, errorAt(r.From.Range, "No replication address",
				"from is empty, so no node would let the NAS's key in. List the addresses the NAS connects from, such as [\"192.0.2.5\"] or [\"fd00::5\"]."))
		}
		for _, it := range r.From.Items {
			if p := fromProblem(it.Value); p != "" {
				diags = append(diags, errorAt(it.Range, "Invalid replication address",
					"%q %s. The nodes' sshd compares the NAS's IP address with from=\"…\"; a host name matches only with UseDNS yes, which sshd (and NixOS) turn off by default, so the key would be refused without a word. Write the IP address (or prefix, such as \"192.0.2.0/28\") the NAS connects from.", it.Value, p))
				continue
			}
			out.from = append(out.from, it.Value)
		}
	case address != nil:
		if ip, err := netip.ParseAddr(address.Value); err == nil && addressProblem(address.Value) == "" {
			out.from = []string{ip.String()}
			break
		}
		diags = append(diags, errorAt(r.DeclRange, "Replication address unknown",
			"The NAS's address %q is a host name, and the nodes' sshd cannot match a host name in the key's from=\"…\" (only with UseDNS yes, which sshd and NixOS turn off by default: the key would be refused without a word). Add from = [\"<IP address>\"] with the address the NAS connects to its nodes from.", address.Value))
	}
	slices.Sort(out.from)
	out.from = slices.Compact(out.from)
	out.bad = diags.HasErrors()
	return out, diags
}

// fromProblem says why s is not an address sshd's from="…" matches as
// an address, or "" when it is one: an IP address (not IPv4-mapped, not
// zoned) or a CIDR prefix with no host bits set (sshd refuses those).
func fromProblem(s string) string {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			return "is not an IP prefix"
		case p.Masked() != p:
			return fmt.Sprintf("has bits set after its prefix length (sshd refuses it; write %q)", p.Masked())
		case p.Addr().Is4In6():
			return "is an IPv4 prefix written as IPv6, which sshd never matches"
		}
		return ""
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "is not an IP address"
	}
	if p := addressProblem(s); p != "" {
		return p
	}
	if ip.String() != s && ip.Is6() {
		return fmt.Sprintf("is not in the canonical form %q", ip.String())
	}
	return ""
}

// nodeReplication is a node's checked replication block.
type nodeReplication struct {
	decl *schema.Replication
	// datasets are the node's datasets the NAS pulls, sorted.
	datasets  []string
	hostKey   string
	port      int
	schedule  plan.Schedule
	into      *nasDataset
	snapshots plan.SnapshotPolicy
	keep      plan.SnapshotPolicy
}

// target is the NAS dataset a source dataset is received into: the
// node's receive dataset and the source's last component.
func (r *nodeReplication) target(n *nasDecl, node, source string) string {
	return n.nas.Parent + "/" + node + "/" + r.into.name + "/" + path.Base(source)
}

// checkNodeReplication checks a node's zfs block for replication. The
// node's datasets are those of its zfs block (already checked by
// lowerNodeDatasets; wrong entries were reported there).
func (f *Fleet) checkNodeReplication(id *nodeIdentity) (*nodeReplication, hcl.Diagnostics) {
	node := id.node
	z := node.ZFS
	if z == nil {
		return nil, nil
	}
	var diags hcl.Diagnostics
	if z.ReplicationKey != nil {
		diags = append(diags, errorAt(z.ReplicationKey.Range, "Replication key of the push layout",
			"The NAS now pulls the node's datasets, so that a node that is taken over holds no key that reaches the history on the NAS (docs/replication.md). The node needs no key of its own: remove replication_key, add a replication block (with the node's host_key) to this zfs block, and a replication block with the NAS's key to the NAS."))
	}
	r := z.Replication
	if r == nil {
		return nil, diags
	}
	out := &nodeReplication{decl: r, snapshots: defaultNodeSnapshots, keep: defaultNASKeep}
	declared, _ := lowerNodeDatasets(z)
	var names []string
	for _, ds := range declared {
		names = append(names, ds.Name)
	}
	slices.Sort(names)
	switch {
	case r.Datasets != nil:
		for _, it := range r.Datasets.Items {
			if !slices.Contains(names, it.Value) {
				diags = append(diags, errorAt(it.Range, "Unknown dataset",
					"%q is not a dataset of the zfs block's datasets (%s). Replicate a declared dataset, or declare it.%s", it.Value, quotedList(names), didYouMean(it.Value, names)))
				continue
			}
			if slices.Contains(out.datasets, it.Value) {
				diags = append(diags, errorAt(it.Range, "Duplicate dataset", "%q is listed twice. List it once.", it.Value))
				continue
			}
			out.datasets = append(out.datasets, it.Value)
		}
		if len(r.Datasets.Items) == 0 {
			diags = append(diags, errorAt(r.Datasets.Range, "Replication of nothing",
				"datasets is empty, so the NAS would pull nothing. List the datasets to replicate, or remove the attribute to replicate every dataset of the zfs block."))
		}
	case len(names) == 0:
		diags = append(diags, errorAt(r.DeclRange, "Replication of nothing",
			"The zfs block declares no datasets, so there is nothing to replicate. Add datasets = { \"/mountpoint\" = \"pool/dataset\" }."))
	default:
		out.datasets = names
	}
	slices.Sort(out.datasets)
	seen := map[string]string{}
	for _, ds := range out.datasets {
		if prev, dup := seen[path.Base(ds)]; dup {
			diags = append(diags, errorAt(r.DeclRange, "Replicated datasets share a name",
				"The datasets %q and %q both end in %q, and each is received on the NAS under its last name. Replicate one of them, or rename one.", prev, ds, path.Base(ds)))
		}
		seen[path.Base(ds)] = ds
	}
	if t := r.HostKey; t != nil {
		diags = append(diags, checkKeyLine(t, "Invalid host key",
			"The host_key is not one OpenSSH public key line (\"ssh-ed25519 AAAA… comment\", the comment printable characters without a double quote) whose key data matches its type. Paste the node's /etc/ssh/ssh_host_ed25519_key.pub; the NAS accepts no other key from the node.")...)
		out.hostKey = t.Value
	}
	if r.Port != nil {
		p, d := wholeNumber(r.Port, 1, 65535, "Invalid port", "ssh port")
		diags = append(diags, d...)
		out.port = p
	}
	def := f.resolveDefaults()
	var d hcl.Diagnostics
	out.schedule, d = lowerSchedule(r.Schedule, nil, defaultReplicationSchedule, def.randomizedDelay, "replication schedule")
	diags = append(diags, d...)
	if r.Snapshots != nil {
		out.snapshots, d = lowerSnapshotPolicy(r.Snapshots, "snapshots")
		diags = append(diags, d...)
	}
	if r.Keep != nil {
		out.keep, d = lowerSnapshotPolicy(r.Keep, "keep")
		diags = append(diags, d...)
	}
	diags = append(diags, checkPolicies(r, out.snapshots, out.keep)...)

	if node.Address == nil {
		diags = append(diags, errorAt(r.DeclRange, "Replication without node address",
			"The NAS connects to the node to pull its datasets, but the node has no address. Add address = \"<host name or IP>\" to the node."))
	}
	if node.NAS == nil {
		diags = append(diags, errorAt(r.DeclRange, "Replication without NAS",
			"The node has no NAS to pull its datasets. Add nas = \"<name>\" to the node."))
		return out, diags
	}
	n := id.nas
	if n == nil {
		return out, diags // unknown NAS: reported with the node
	}
	if n.replication == nil {
		diags = append(diags, errorAt(r.DeclRange, "NAS without replication key",
			"The NAS %q pulls the node's datasets with a key of its own, which it does not declare. Add to the NAS in bakc.hcl:\n\n  replication {\n    identity_file = \"/run/secrets/bakc-replication-key\"\n    public_key    = \"ssh-ed25519 AAAA… bakc@%s\"\n    from          = [\"<the NAS's IP address>\"]\n  }", n.nas.Name, n.nas.Name))
	}
	var receive []*nasDataset
	for _, ds := range n.datasets {
		if ds.receive {
			receive = append(receive, ds)
		}
	}
	var recvNames []string
	for _, ds := range receive {
		recvNames = append(recvNames, ds.name)
	}
	switch {
	case r.Into != nil:
		ds := n.dataset(r.Into.Value)
		if ds == nil || !ds.receive {
			diags = append(diags, errorAt(r.Into.Range, "Unknown receive dataset",
				"The NAS %q has no dataset block %q with receive = true; its receive datasets are %s.%s", n.nas.Name, r.Into.Value, quotedList(recvNames), didYouMean(r.Into.Value, recvNames)))
		} else {
			out.into = ds
		}
	case len(receive) == 1:
		out.into = receive[0]
	case len(receive) == 0:
		diags = append(diags, errorAt(r.DeclRange, "NAS without receive dataset",
			"The NAS %q has no dataset block with receive = true for the copies. Add one to the NAS, such as dataset \"zfs-recv\" { quota = \"500G\"  readonly = \"on\"  receive = true }.", n.nas.Name))
	default:
		diags = append(diags, errorAt(r.DeclRange, "Ambiguous receive dataset",
			"The NAS %q has several receive datasets (%s). Say which one with into = \"<name>\".", n.nas.Name, quotedList(recvNames)))
	}
	if out.into != nil {
		diags = append(diags, checkCopyNames(r, out, n, node.Name)...)
	}
	return out, diags
}

// checkCopyNames refuses a replicated dataset whose copy on the NAS would
// get a name ZFS refuses (longer than 255 bytes), or whose pull's service
// name systemd would refuse (the same limit, on a NixOS NAS and a plain
// one): the NAS's outputs could not be written.
func checkCopyNames(r *schema.Replication, out *nodeReplication, n *nasDecl, node string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, ds := range out.datasets {
		rng := r.DeclRange
		if r.Datasets != nil {
			for _, it := range r.Datasets.Items {
				if it.Value == ds {
					rng = it.Range
				}
			}
		}
		target := out.target(n, node, ds)
		if err := plan.CheckDatasetName(target); err != nil {
			diags = append(diags, errorAt(rng, "Copy name too long",
				"The copy of %q on the NAS would be %q, %d bytes: ZFS names have at most 255. Give the dataset a shorter last name, or the NAS a shorter parent or receive dataset.", ds, target, len(target)))
			continue
		}
		for _, unit := range replication.PullUnitNames(node, ds) {
			if err := escape.CheckSystemdUnitName(unit); err != nil {
				diags = append(diags, errorAt(rng, "Pull unit name too long",
					"The NAS's service that pulls %q would be %q, %d bytes: systemd takes at most 255. Use a shorter dataset or node name.", ds, unit, len(unit)))
				break
			}
		}
	}
	return diags
}

// lowerSnapshotPolicy checks a snapshots or keep block.
func lowerSnapshotPolicy(p *schema.SnapshotPolicy, block string) (plan.SnapshotPolicy, hcl.Diagnostics) {
	var out plan.SnapshotPolicy
	var diags hcl.Diagnostics
	for _, k := range []struct {
		v    *schema.Number
		dst  *int
		name string
	}{
		{p.Frequently, &out.Frequently, "frequently"}, {p.Hourly, &out.Hourly, "hourly"},
		{p.Daily, &out.Daily, "daily"}, {p.Weekly, &out.Weekly, "weekly"},
		{p.Monthly, &out.Monthly, "monthly"}, {p.Yearly, &out.Yearly, "yearly"},
	} {
		if k.v == nil {
			continue
		}
		n, d := wholeNumber(k.v, 0, 100000, "Invalid snapshot count", fmt.Sprintf("number of %s snapshots in %s", k.name, block))
		diags = append(diags, d...)
		*k.dst = n
	}
	return out, diags
}

// checkPolicies reports policies that could not work: the node takes no
// snapshot, the NAS keeps none, or the NAS keeps a kind the node never
// takes (sanoid on the NAS only prunes; what it keeps must arrive).
func checkPolicies(r *schema.Replication, snaps, keep plan.SnapshotPolicy) hcl.Diagnostics {
	var diags hcl.Diagnostics
	rng := func(p *schema.SnapshotPolicy) hcl.Range {
		if p != nil {
			return p.DeclRange
		}
		return r.DeclRange
	}
	if snaps == (plan.SnapshotPolicy{}) {
		diags = append(diags, errorAt(rng(r.Snapshots), "No snapshots",
			"The node's snapshot policy takes no snapshot, so there is nothing to replicate. Give at least one kind a count, such as hourly = 24."))
	}
	if keep == (plan.SnapshotPolicy{}) {
		diags = append(diags, errorAt(rng(r.Keep), "NAS keeps nothing",
			"The NAS's policy keeps no snapshot, so it would remove every copy it receives. Give at least one kind a count, such as daily = 30."))
	}
	taken := snaps.Kinds()
	for i, k := range keep.Kinds() {
		if k.Count > 0 && taken[i].Count == 0 {
			diags = append(diags, errorAt(rng(r.Keep), "Kept but never taken",
				"The NAS keeps %d %s snapshots, but the node takes none (snapshots { %s = 0 }); sanoid on the NAS only prunes what arrives, so it would keep none. Give the node's snapshots a %s count of at least 1, or remove %s from keep.", k.Count, k.Name, k.Name, k.Name, k.Name))
		}
	}
	return diags
}

// checkKeyLine reports a value that is not one OpenSSH public key line
// without options, whose key data names its type.
func checkKeyLine(t *schema.Text, summary, detail string) hcl.Diagnostics {
	if checkPublicKey(t) == nil {
		return nil
	}
	return hcl.Diagnostics{errorAt(t.Range, summary, "%s", detail)}
}

// lowerReplication is the node plan's replication: what the node runs
// (sanoid) and lets in (the NAS's key, from its addresses).
func lowerReplication(id *nodeIdentity) *plan.Replication {
	r := id.replication
	if r == nil || id.nas == nil || id.nas.replication == nil {
		return nil
	}
	out := &plan.Replication{
		Datasets:  slices.Clone(r.datasets),
		Snapshots: r.snapshots,
		User:      plan.SendUser,
		NAS:       id.nas.nas.Name,
		PublicKey: id.nas.replication.publicKey,
		From:      slices.Clone(id.nas.replication.from),
	}
	if r.into != nil {
		for _, ds := range r.datasets {
			out.Copies = append(out.Copies, plan.ReplicaDataset{Source: ds, Target: r.target(id.nas, id.node.Name, ds)})
		}
		s := r.schedule
		out.Schedule = &s
	}
	return out
}

// lowerNodeReplication is the NAS plan's share of a node's replication.
func lowerNodeReplication(n *nasDecl, id *nodeIdentity) *plan.NodeReplication {
	r := id.replication
	if r == nil || r.into == nil {
		return nil
	}
	out := &plan.NodeReplication{
		Address:  id.address,
		User:     plan.SendUser,
		HostKey:  r.hostKey,
		Schedule: r.schedule,
		Keep:     r.keep,
	}
	if r.port != 22 {
		out.Port = r.port
	}
	for _, ds := range r.datasets {
		out.Datasets = append(out.Datasets, plan.ReplicaDataset{Source: ds, Target: r.target(n, id.node.Name, ds)})
	}
	return out
}

// lowerNASReplication is the NAS plan's replication: the NAS's key and
// its runtime's folders (the fleet's defaults).
func (f *Fleet) lowerNASReplication(n *nasDecl) *plan.NASReplication {
	def := f.resolveDefaults()
	mon := def.monitoring.resolve(def.paths)
	return &plan.NASReplication{
		IdentityFile: n.replication.identityFile,
		PublicKey:    n.replication.publicKey,
		State:        def.paths.State,
		TextfileDir:  mon.TextfileDir,
		ErrorLog:     mon.ErrorLog,
	}
}

// nodeGets reports whether a node gets a NAS dataset block: every
// dataset but a receive one, which only a node replicating into it
// gets, so that a node without replication has no copy counted against
// the NAS's capacity.
func nodeGets(id *nodeIdentity, ds *nasDataset) bool {
	if !ds.receive {
		return true
	}
	return id.replication != nil && id.replication.into == ds
}

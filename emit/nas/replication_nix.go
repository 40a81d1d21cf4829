package nas

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/replication"
)

// syncoidTargetAllow are the rights NixOS's syncoid module delegates to
// its user on the receive side: make and mount new copies, receive into
// them; not its default's rollback (a received copy is never rolled
// back), nor destroy.
var syncoidTargetAllow = []string{"create", "mount", "receive"}

// knownHostsName is the store name of the NAS's known_hosts for the
// nodes it pulls from (public keys only).
const knownHostsName = "bakc-replication-known_hosts"

// moduleSuppliedArgs are what NixOS's syncoid module puts on syncoid's
// command line itself (--sshkey from sshKey, --recvoptions from
// recvOptions, --no-privilege-elevation always); extraArgs holds the
// rest of SyncoidArgs.
func moduleArgs(args []string) (extra []string, recvOptions string, err error) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--sshkey":
			i++
		case a == "--no-privilege-elevation":
		case strings.HasPrefix(a, "--recvoptions="):
			recvOptions = strings.TrimPrefix(a, "--recvoptions=")
		default:
			extra = append(extra, a)
		}
	}
	if len(extra) < 2 {
		return nil, "", fmt.Errorf("syncoid arguments without source and target")
	}
	return extra[:len(extra)-2], recvOptions, nil
}

// CommandName is replication.CommandName.
func CommandName(node, source string) string { return replication.CommandName(node, source) }

// replicationNix is the NAS's side of replication as NixOS options,
// each line indented by two spaces (body), with the binding of the
// nodes' known_hosts file for the module's let (let), or "" and "" when
// no node of p replicates:
// NixOS's services.syncoid pulls every replicated dataset of every node
// with SyncoidArgs' flags, on the node's schedule; services.sanoid
// prunes the copies by the node's keep policy and takes none.
func replicationNix(p *plan.NASPlan) (let, body nixCode, err error) {
	if p.Replication == nil {
		return "", "", nil
	}
	if err := p.ValidateReplication(); err != nil {
		return "", "", fmt.Errorf("NAS plan %s: %w", p.NAS.Name, err)
	}
	r := p.Replication
	var b strings.Builder
	w := func(format string, args ...any) {
		if format != "" {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, format+"\n", args...)
	}
	const knownHostsExpr = "@KNOWN_HOSTS@"
	w("")
	w("# Replication (docs/replication.md): the NAS pulls the nodes' ZFS")
	w("# datasets with syncoid, logging in with its key, which each node lets")
	w("# in from the NAS's addresses to run bakc's guard only; the copies are")
	w("# received unmounted and never rolled back. sanoid prunes them by the")
	w("# node's keep policy. The NAS's private key stays out of the Nix store;")
	w("# the syncoid user must be able to read it (owner syncoid, mode 0400):")
	w("# %s", escape.CommentText(r.IdentityFile))
	w("services.syncoid.enable = true;")
	w("services.syncoid.localTargetAllow = [ %s ];", nixWords(syncoidTargetAllow))
	w("")
	w("# Every pull runs under bakc (bakc run replicate): the module's own")
	w("# syncoid command line is kept, and bakc adds a lock per copy, the")
	w("# failure's category in the error log and metrics with the lag. The")
	w("# units' sandbox (RootDirectory, ProtectSystem=strict) gets bakc's")
	w("# folders bound in, writable by the syncoid user.")
	folders, err := replicateFolders(r)
	if err != nil {
		return "", "", fmt.Errorf("NAS plan %s: %w", p.NAS.Name, err)
	}
	w("services.syncoid.package = bakcSyncoid;")
	w("services.syncoid.service.serviceConfig.BindPaths = [ %s ];", nixWords(folders))
	w("# bakc (the unit's main process: the wrapper execs it) sends its status.")
	w("services.syncoid.service.serviceConfig.NotifyAccess = \"main\";")
	w("# After the host's own rules: on a NAS that is also a bakc node, the")
	w("# node's lines for the textfile and log folders (its backup user's) come")
	w("# first and win; systemd-tmpfiles takes the first line for a path.")
	w("systemd.tmpfiles.rules = lib.mkAfter [")
	for _, rule := range replicateTmpfiles(r) {
		w("  %s", escape.NixString(rule))
	}
	w("];")
	w("services.sanoid.enable = true;")
	pulls, known, err := nasPulls(p, knownHostsExpr)
	if err != nil {
		return "", "", err
	}
	for _, pl := range pulls {
		n, nr, d := pl.node, pl.node.Replication, pl.dataset
		extra, recv, err := moduleArgs(pl.args)
		if err != nil {
			return "", "", err
		}
		name := CommandName(n.Name, d.Source)
		attr := "services.syncoid.commands." + escape.NixAttrName(name)
		w("")
		w("# %s of node %s", escape.CommentText(d.Source), n.Name)
		w("%s = {", attr)
		w("  source = %s;", escape.NixString(nr.User+"@"+n.Name+":"+d.Source))
		w("  target = %s;", escape.NixString(d.Target))
		w("  sshKey = %s;", escape.NixString(r.IdentityFile))
		w("  recvOptions = %s;", escape.NixString(recv))
		w("  extraArgs = [")
		for _, a := range extra {
			if strings.Contains(a, knownHostsExpr) {
				w("    %s", strings.Replace(escape.NixString(a), knownHostsExpr, "${knownHosts}", 1))
				continue
			}
			w("    %s", escape.NixString(a))
		}
		w("  ];")
		w("  service.startAt = lib.mkForce %s;", escape.NixString(nr.Schedule.Calendar))
		w("};")
		if nr.Schedule.RandomizedDelay != "" {
			w("systemd.timers.%s.timerConfig.RandomizedDelaySec = %s;", escape.NixAttrName("syncoid-"+name), escape.NixString(nr.Schedule.RandomizedDelay))
		}
		w("services.sanoid.datasets.%s = {", escape.NixAttrName(d.Target))
		settings := replication.SanoidSettings(nr.Keep, false)
		keys := make([]string, 0, len(settings))
		for k := range settings {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			w("  %s = %s;", k, settings[k]) // numbers and true/false
		}
		w("};")
	}
	let = nixCode("  knownHosts = pkgs.writeText " + escape.NixString(knownHostsName) + " " + escape.NixString(known) + ";\n" +
		replicateWrapper(r))
	return let, nixCode(b.String()), nil
}

// pull is one dataset the NAS pulls from a node, with syncoid's
// arguments (SyncoidArgs).
type pull struct {
	node    plan.NASNode
	dataset plan.ReplicaDataset
	args    []string
}

// nasPulls are the datasets p's NAS pulls, node by node, with syncoid's
// arguments for a known_hosts file at knownHosts, and that file's
// content: the NixOS form and the plain units both start from them.
func nasPulls(p *plan.NASPlan, knownHosts string) ([]pull, string, error) {
	var out []pull
	var known strings.Builder
	for _, n := range p.Nodes {
		nr := n.Replication
		if nr == nil {
			continue
		}
		known.WriteString(replication.KnownHostsLine(n.Name, nr.HostKey))
		for _, d := range nr.Datasets {
			args, err := replication.SyncoidArgs(nr, n.Name, d, p.Replication.IdentityFile, knownHosts)
			if err != nil {
				return nil, "", fmt.Errorf("node %s: %w", n.Name, err)
			}
			out = append(out, pull{node: n, dataset: d, args: args})
		}
	}
	return out, known.String(), nil
}

// replicateFlags are `bakc run replicate`'s flags for the NAS plan's
// folders, the same in the NixOS wrapper and the plain units.
func replicateFlags(r *plan.NASReplication) []string {
	return []string{"--state", replicateState(r), "--textfile-dir", r.TextfileDir, "--error-log", r.ErrorLog}
}

// nixWords is a list's elements as Nix strings.
func nixWords(ws []string) string {
	var out []string
	for _, w := range ws {
		out = append(out, escape.NixString(w))
	}
	return strings.Join(out, " ")
}

// replicateState is the folder of `bakc run replicate`'s locks, run
// records and last successes on the NAS: a folder of its own in the
// plan's state folder, which the syncoid user owns, so that a NAS that
// is also a bakc node keeps its backup user's state folder as it is.
func replicateState(r *plan.NASReplication) string { return path.Join(r.State, "replication") }

// replicateFolders are the NAS's folders `bakc run replicate` writes,
// as words of BindPaths=: its state, node_exporter's textfile folder
// and the error log's folder. A ":" would split a BindPaths= word, so
// it is refused.
func replicateFolders(r *plan.NASReplication) ([]string, error) {
	var out []string
	for _, f := range []struct{ name, dir string }{
		{"state", replicateState(r)}, {"textfile_dir", r.TextfileDir}, {"error_log's folder", path.Dir(r.ErrorLog)},
	} {
		if err := escape.CheckSystemdPath(f.dir); err != nil {
			return nil, fmt.Errorf("replication %s %q %v", f.name, f.dir, err)
		}
		if strings.Contains(f.dir, ":") {
			return nil, fmt.Errorf("replication %s %q has a \":\", which BindPaths= reads as a separator", f.name, f.dir)
		}
		out = append(out, escape.SystemdPath(f.dir))
	}
	return out, nil
}

// replicateTmpfiles make those folders before the units start (a bind
// mount needs its source): the state the syncoid user's own, the shared
// folders writable by its group. replicateFolders checked the paths.
func replicateTmpfiles(r *plan.NASReplication) []string {
	return []string{
		"d " + escape.SystemdPath(replicateState(r)) + " 0750 syncoid syncoid - -",
		"d " + escape.SystemdPath(r.TextfileDir) + " 0775 root syncoid - -",
		"d " + escape.SystemdPath(path.Dir(r.ErrorLog)) + " 0775 root syncoid - -",
	}
}

// replicateWrapper is the let binding of the package services.syncoid
// runs as its syncoid: bin/syncoid execs `bakc run replicate` with the
// real syncoid and the NAS plan's folders, then the module's arguments.
func replicateWrapper(r *plan.NASReplication) string {
	argv := []string{"run", "replicate"}
	var b strings.Builder
	b.WriteString("  # services.syncoid's syncoid: bakc run replicate, which runs the real one.\n")
	b.WriteString("  bakcSyncoid = pkgs.writeShellScriptBin \"syncoid\" ''\n")
	b.WriteString("    exec ${lib.escapeShellArgs [\n")
	b.WriteString("      \"${pkgs.bakc}/bin/bakc\"\n")
	for _, a := range argv {
		b.WriteString("      " + escape.NixString(a) + "\n")
	}
	b.WriteString("      \"--syncoid\"\n      \"${pkgs.sanoid}/bin/syncoid\"\n")
	for _, a := range replicateFlags(r) {
		b.WriteString("      " + escape.NixString(a) + "\n")
	}
	b.WriteString("      \"--\"\n")
	b.WriteString("    ]} \"$@\"\n")
	b.WriteString("  '';\n")
	return b.String()
}

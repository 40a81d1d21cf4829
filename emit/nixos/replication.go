package nixos

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/replication"
)

// allowUnit is replication.AllowUnit.
const allowUnit = replication.AllowUnit

// setReplication adds a replicating node's side (docs/replication.md):
// NixOS's services.sanoid takes and prunes the snapshots by the node's
// policy; the send user holds the NAS's key, whose forced command is
// bakc's guard; a oneshot delegates `zfs send` of the datasets to it.
// The node holds no key of its own: the NAS pulls.
func setReplication(top *attrs, p *plan.Plan) error {
	r := p.Replication
	if r == nil {
		return nil
	}
	before, after, err := replication.AuthorizedKeyParts(r)
	if err != nil {
		return err
	}
	top.set(raw("true"), "services", "sanoid", "enable")
	if cal := replication.SanoidCalendar(r.Snapshots); cal != "hourly" {
		// Frequent snapshots need sanoid to run as often as they are
		// taken; NixOS runs it hourly by default.
		top.set(str(cal), "services", "sanoid", "interval")
	}
	for _, ds := range r.Datasets {
		top.set(sanoidDataset(replication.SanoidSettings(r.Snapshots, true)), "services", "sanoid", "datasets", ds)
	}
	key := raw("(" + string(str(before)) + ` + "${bakc}/bin/bakc" + ` + string(str(strings.TrimSuffix(after, "\n"))) + ")")
	user := (&attrs{}).
		set(raw("true"), "isSystemUser").
		set(str(r.User), "group").
		set(str(replication.SendUserDescription(r.NAS)), "description").
		// sshd runs the forced command with the user's shell.
		set(raw("true"), "useDefaultShell").
		set(list{key}, "openssh", "authorizedKeys", "keys")
	top.set(user, "users", "users", r.User)
	top.set(&attrs{}, "users", "groups", r.User)

	var execs list
	for _, ds := range r.Datasets {
		argv := append([]string{"/run/booted-system/sw/bin/zfs"}, replication.AllowArgs(r.User, ds)...)
		for _, a := range argv[1:] {
			if err := escape.CheckSystemdExecArg(a); err != nil {
				return fmt.Errorf("replication: %w", err)
			}
		}
		execs = append(execs, str(escape.SystemdExec(argv)))
	}
	svc := (&attrs{}).
		set(str("bakc: let "+r.User+" zfs send the replicated datasets"), "description").
		set(list{str("multi-user.target")}, "wantedBy").
		set(list{str("zfs.target")}, "after").
		set(str("oneshot"), "serviceConfig", "Type").
		set(raw("true"), "serviceConfig", "RemainAfterExit").
		set(execs, "serviceConfig", "ExecStart")
	top.set(svc, "systemd", "services", allowUnit)
	return nil
}

// sanoidDataset is one dataset of services.sanoid.datasets: the
// settings as bools and numbers, which the module writes with
// lib.generators.toINI as SanoidConfig writes them.
func sanoidDataset(settings map[string]string) *attrs {
	a := &attrs{}
	for _, k := range sortedKeys(settings) {
		v := settings[k]
		if _, err := strconv.Atoi(v); err == nil || v == "true" || v == "false" {
			a.set(raw(v), k)
		} else {
			a.set(str(v), k)
		}
	}
	return a
}

func sortedKeys(m map[string]string) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.Sort(keys)
	return keys
}

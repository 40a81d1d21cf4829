package compiler

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/schema"
)

// defaultNFSOptions are the mount options of an NFS repository: mounted
// on first use by systemd, so a NAS that is down at boot does not hold up
// the node, with a bounded wait. Never unmounted when idle: see
// checkIdleTimeout.
var defaultNFSOptions = []string{
	"_netdev",
	"nfsvers=4.2",
	"noatime",
	"noauto",
	"x-systemd.automount",
	"x-systemd.mount-timeout=30s",
}

// urlKinds maps a restic URL's scheme to its repository kind.
var urlKinds = map[string]string{
	"sftp":   plan.KindSFTP,
	"rest":   plan.KindREST,
	"s3":     plan.KindS3,
	"b2":     plan.KindB2,
	"azure":  plan.KindAzure,
	"gs":     plan.KindGS,
	"swift":  plan.KindSwift,
	"rclone": plan.KindRclone,
}

// mountOptionRE is one mount option: a word with an optional value;
// commas and spaces would split it.
var mountOptionRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.:@/+%-]+)?$`)

// lowerRepository checks one repository and lowers it; the tasks given
// are the node's (or the defaults'), which the repository's own blocks
// replace.
func (s *nodeScope) lowerRepository(r *schema.Repository, prune plan.Prune, verify *plan.Verify, restoreTest *plan.RestoreTest) (*plan.Repository, hcl.Diagnostics) {
	diags := checkName(r.Name, r.NameRange, plan.NameRepository)
	out := &plan.Repository{Name: r.Name}

	if r.InlineSecret != nil {
		summary, what := "Inline password", "A repository password"
		if r.InlineSecret.Name == "environment" {
			summary, what = "Inline secret", "A repository's environment (cloud credentials)"
		}
		d := errorAt(r.InlineSecret.NameRange, summary,
			"%s written in the configuration would be copied into the plan and the Nix store, where every user of the machine can read it. Put it in a file outside the store (for example with sops-nix or agenix) and give its path as %s_file.",
			what, r.InlineSecret.Name)
		d.Extra = schema.SecretDiagnostic{} // its source line holds the secret
		diags = append(diags, d)
	}
	switch {
	case r.PasswordFile == nil && r.PasswordSops == nil && r.InlineSecret != nil && r.InlineSecret.Name == "password":
		// Reported as an inline password.
	case r.PasswordFile == nil && r.PasswordSops == nil:
		diags = append(diags, errorAt(r.DeclRange, "Missing password file",
			"The repository %q has no password_file; restic needs the repository's password. Add password_file = \"/run/secrets/…\", a file outside the Nix store, or password_file = { sops = \"secrets/<node>.yaml\", key = \"…\" } for a sops-nix secret.", r.Name))
	default:
		p, d := s.lowerSecret(r.PasswordFile, r.PasswordSops, r.Name, plan.SecretPassword, "password file")
		diags = append(diags, d...)
		out.PasswordFile = p
	}
	if r.EnvironmentFile != nil || r.EnvironmentSops != nil {
		p, d := s.lowerSecret(r.EnvironmentFile, r.EnvironmentSops, r.Name, plan.SecretEnvironment, "environment file")
		diags = append(diags, d...)
		out.EnvironmentFile = p
	}
	if r.Init != nil {
		out.Init = r.Init.Value
	}
	if r.Default != nil && !r.Default.Value {
		// Only false is written: absent means a default repository,
		// as every repository was before the attribute.
		f := false
		out.Default = &f
	}
	if r.Retention != nil {
		rt, d := lowerRetention(r.Retention)
		diags = append(diags, d...)
		if !d.HasErrors() {
			out.Retention = &rt
		}
	}

	var given []string
	if r.NFS != nil {
		given = append(given, "nfs")
	}
	if r.Path != nil {
		given = append(given, "path")
	}
	if r.URL != nil {
		given = append(given, "url")
	}
	switch len(given) {
	case 0:
		diags = append(diags, errorAt(r.DeclRange, "Missing repository location",
			"The repository %q does not say where it is. Add one of: an nfs { dataset, mountpoint } block for a dataset of the node's NAS, path = \"/…\" for a local folder, or url = \"sftp:…\" (or rest:, s3:, b2:, azure:, gs:, swift:, rclone:).", r.Name))
	case 1:
		diags = append(diags, s.lowerLocation(r, out)...)
	default:
		diags = append(diags, errorAt(r.DeclRange, "Ambiguous repository location",
			"The repository %q gives %s; a repository is in exactly one place. Keep one.", r.Name, quotedList(given)))
	}
	diags = append(diags, s.lowerSSH(r, out)...)

	// Copies: plans of different repositories and nodes share nothing.
	out.Prune = prune
	if verify != nil {
		v := *verify
		out.Verify = &v
	}
	if restoreTest != nil {
		r := *restoreTest
		out.RestoreTest = &r
	}
	var d hcl.Diagnostics
	if r.Prune != nil {
		out.Prune, d = lowerPrune(r.Prune, s.delay)
		diags = append(diags, d...)
	}
	if r.Verify != nil {
		out.Verify, d = lowerVerify(r.Verify, s.delay)
		diags = append(diags, d...)
	}
	if r.RestoreTest != nil {
		out.RestoreTest, d = lowerRestoreTest(r.RestoreTest, s.delay)
		diags = append(diags, d...)
	}
	diags = append(diags, s.lowerRepositoryOptions(r, out)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

// lowerLocation fills in the kind, URL and NFS mount of a repository
// with exactly one location.
func (s *nodeScope) lowerLocation(r *schema.Repository, out *plan.Repository) hcl.Diagnostics {
	if r.Mountpoint != nil && r.Path == nil {
		return hcl.Diagnostics{errorAt(r.Mountpoint.Range, "Mountpoint without path",
			"mountpoint says which disk a local repository (path = \"/…\") lives on. An nfs repository gives its mountpoint inside its nfs block, and a URL repository has none. Remove it.")}
	}
	switch {
	case r.Path != nil:
		if d := checkAbsPath(r.Path, "repository path"); d.HasErrors() {
			return d
		}
		// The plan's url, whose rule (Validate's) is one line of a
		// unit file: found by the hostile-string table, a final
		// backslash was accepted here and refused by the runtime.
		if err := escape.CheckSystemdLine(r.Path.Value); err != nil {
			return hcl.Diagnostics{errorAt(r.Path.Range, "Invalid path",
				"The repository path %q cannot be carried into the plan: it %s. Choose another folder.", r.Path.Value, err)}
		}
		if d := checkPlacement(r.Path, plan.PlaceRepository, "repository path", "/srv/restic"); d.HasErrors() {
			return d
		}
		out.Kind, out.URL = plan.KindLocal, r.Path.Value
		return lowerLocalMountpoint(r, out)
	case r.URL != nil:
		return lowerURL(r.URL, out)
	}
	return s.lowerNFS(r, out)
}

// lowerLocalMountpoint checks the mountpoint of a local repository: the
// disk it lives on, which the runtime checks is mounted. Without one,
// init = true is warned about: the runtime then refuses to create the
// repository on the root file system, where an unmounted disk's empty
// mountpoint is.
func lowerLocalMountpoint(r *schema.Repository, out *plan.Repository) hcl.Diagnostics {
	if r.Mountpoint == nil {
		if r.Init != nil && r.Init.Value {
			return hcl.Diagnostics{warningAt(r.Init.Range, "Local repository without mountpoint",
				"With init = true, bakc creates the repository %q when it is missing, but a missing local repository is usually a disk that is not mounted, and its empty mountpoint is a folder on the root file system. So bakc refuses to create it there. Say which disk it lives on with mountpoint = \"/mnt/…\" (bakc then also refuses to back up while that disk is not mounted), or mountpoint = \"/\" if the repository belongs on the root file system.",
				r.Path.Value)}
		}
		return nil
	}
	if d := checkAbsPath(r.Mountpoint, "mountpoint"); d.HasErrors() {
		return d
	}
	mp := r.Mountpoint.Value
	if out.URL != mp && mp != "/" && !strings.HasPrefix(out.URL, mp+"/") {
		return hcl.Diagnostics{errorAt(r.Mountpoint.Range, "Repository outside its mountpoint",
			"The repository's path %q is not on the disk mounted at %q. Write the mountpoint of the disk the path is on (the path itself or a folder above it).", out.URL, mp)}
	}
	out.Mountpoint = mp
	return nil
}

// lowerURL checks a restic repository URL.
func lowerURL(t *schema.Text, out *plan.Repository) hcl.Diagnostics {
	v := t.Value
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "local:") {
		return hcl.Diagnostics{errorAt(t.Range, "Local path as URL",
			"%q is a local folder. Write it as path = %q, so that bakc can check it.", v, strings.TrimPrefix(v, "local:"))}
	}
	scheme, rest, ok := strings.Cut(v, ":")
	// A password in the URL (rest:https://user:secret@host/) is a
	// secret in the configuration, as an inline password is.
	// Checked before anything else, since the other messages quote the
	// URL (which then would quote the password).
	candidate := ""
	switch {
	case strings.HasPrefix(rest, "//"):
		candidate = scheme + ":" + rest // sftp://user:pw@host/…
	case strings.Contains(rest, "://"):
		candidate = rest // rest:https://user:pw@host/, s3:https://…
	}
	if candidate != "" && urlHasPassword(candidate) {
		d := errorAt(t.Range, "Password in repository URL",
			"The URL of the repository holds a password, which would be copied into the plan and the Nix store. Remove it from the URL and put the credentials in environment_file (for rest: RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD).")
		d.Extra = schema.SecretDiagnostic{}
		return hcl.Diagnostics{d}
	}
	kind, known := urlKinds[scheme]
	if !ok || !known {
		schemes := sortedKeys(urlKinds)
		return hcl.Diagnostics{errorAt(t.Range, "Unknown repository kind",
			"%q does not start with a restic repository kind bakc knows. Write one of %s followed by \":\", such as \"sftp:user@host:/srv/restic\".%s",
			v, quotedList(schemes), didYouMean(scheme, schemes))}
	}
	if rest == "" || strings.ContainsAny(v, " \t") {
		return hcl.Diagnostics{errorAt(t.Range, "Invalid repository URL",
			"%q is not a repository URL: the part after %q is empty or holds spaces. Write the full location, such as \"%s:…\" as restic's documentation gives it.", v, scheme+":", scheme)}
	}
	if kind == plan.KindSFTP {
		if problem := sftpAddressProblem(v); problem != "" {
			return hcl.Diagnostics{errorAt(t.Range, "Invalid sftp URL", "%s.", problem)}
		}
	}
	out.Kind, out.URL = kind, v
	return nil
}

// urlHasPassword reports whether a URL's authority (between "://" and
// the next "/") has user information with a colon: user:password@host.
// It reads the text itself rather than url.Parse, which refuses some
// URLs (a space in the password) that would then be quoted whole in
// another message.
func urlHasPassword(u string) bool {
	_, after, ok := strings.Cut(u, "://")
	if !ok {
		return false
	}
	authority, _, _ := strings.Cut(after, "/")
	at := strings.LastIndexByte(authority, '@')
	return at >= 0 && strings.Contains(authority[:at], ":")
}

// lowerNFS checks an nfs block against the node's NAS.
func (s *nodeScope) lowerNFS(r *schema.Repository, out *plan.Repository) hcl.Diagnostics {
	nfs := r.NFS
	var diags hcl.Diagnostics
	if nfs.Mountpoint != nil {
		d := checkAbsPath(nfs.Mountpoint, "mountpoint")
		if !d.HasErrors() {
			d = checkNFSMountpoint(nfs.Mountpoint)
		}
		if !d.HasErrors() {
			d = checkPlacement(nfs.Mountpoint, plan.PlaceRepository, "mountpoint", "/mnt/nas-backup")
		}
		diags = append(diags, d...)
	}
	options := defaultNFSOptions
	if nfs.Options != nil {
		var items []schema.Text
		for _, it := range nfs.Options.Items {
			if !mountOptionRE.MatchString(it.Value) {
				diags = append(diags, errorAt(it.Range, "Invalid mount option",
					"%q is not a mount option. Write one option per item, such as \"nfsvers=4.1\" or \"soft\", without commas or spaces.", it.Value))
				continue
			}
			items = append(items, it)
			if d := checkTimeoutOption(it); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			diags = append(diags, checkIdleTimeout(it)...)
		}
		var d hcl.Diagnostics
		options, d = checkMountOptionOrder(items)
		diags = append(diags, d...)
	}
	id := s.id
	if id.nas == nil {
		if id.node.NAS == nil {
			diags = append(diags, errorAt(nfs.DeclRange, "NFS repository without NAS",
				"An nfs repository is a dataset of the node's NAS, but the node names no NAS. Add nas = \"<name>\" to the node, or use path or url for this repository."))
		}
		// An unknown NAS is reported on the node.
		return diags
	}
	if nfs.Dataset == nil || nfs.Mountpoint == nil || diags.HasErrors() {
		return diags
	}
	ds := id.nas.dataset(nfs.Dataset.Value)
	if ds == nil {
		names := id.nas.datasetNames()
		return append(diags, errorAt(nfs.Dataset.Range, "Unknown NAS dataset",
			"The NAS %q has no dataset named %q; it has %s. Declare it in the NAS block in bakc.hcl, or fix the name.%s",
			id.nas.nas.Name, nfs.Dataset.Value, quotedList(names), didYouMean(nfs.Dataset.Value, names)))
	}
	if !ds.export {
		return append(diags, errorAt(nfs.Dataset.Range, "Dataset not exported",
			"The dataset %q of NAS %q is not exported over NFS, so the node cannot mount it. Add export = \"nfs\" to the dataset in bakc.hcl, or choose an exported dataset.",
			ds.name, id.nas.nas.Name))
	}
	mount := &plan.NFSMount{
		NAS:        id.nas.nas.Name,
		Server:     id.nas.nas.Address,
		Dataset:    id.nas.nas.Parent + "/" + id.node.Name + "/" + ds.name,
		Export:     path.Join(id.nas.nas.MountRoot, id.node.Name, ds.name),
		Mountpoint: nfs.Mountpoint.Value,
		Options:    append([]string{}, options...),
	}
	if ds.quota > 0 {
		// The alerts warn before the repository fills it (bakc alerts).
		mount.Quota = ds.quota
	}
	if err := mount.CheckFstab(); err != nil {
		// The line NixOS writes relates the NAS's address and mount
		// root, the node's name, the dataset, the mountpoint and the
		// options; the mountpoint is the part the node chose.
		return append(diags, errorAt(nfs.Mountpoint.Range, "NFS mount too long for fstab",
			"The NFS mount of repository %q cannot be written into /etc/fstab as itself: %s. Choose a shorter mountpoint (or a shorter mount root on the NAS).", r.Name, err))
	}
	out.Kind, out.URL, out.NFS = plan.KindNFS, nfs.Mountpoint.Value, mount
	return diags
}

// timeoutOptions are the fstab options whose value systemd reads as a
// time span (systemd.mount(5)); the unit writer puts the first two into
// the mount and automount units as TimeoutSec= and TimeoutIdleSec=.
var timeoutOptions = []string{"x-systemd.mount-timeout", "x-systemd.idle-timeout", "x-systemd.device-timeout"}

// checkTimeoutOption refuses a timeout option whose value systemd does
// not read as a time span: systemd-fstab-generator and the unit file
// parser log that they ignore it, and the mount runs with the default
// timeout (90 s), or an automount never idles out, without a word in
// the configuration's terms.
func checkTimeoutOption(it schema.Text) hcl.Diagnostics {
	name, value, _ := strings.Cut(it.Value, "=")
	if !slices.Contains(timeoutOptions, name) {
		return nil
	}
	if _, err := calendar.ParseTimespan(value); err != nil {
		return hcl.Diagnostics{errorAt(it.Range, "Invalid mount timeout",
			"%s takes a time span as systemd reads it, such as %s=30s or %s=2min (a bare number is seconds): %s.", name, name, name, err)}
	}
	return nil
}

// checkIdleTimeout warns about x-systemd.idle-timeout on a repository's
// mount. An automount's idle timer counts only uses in the host's mount
// namespace, and every bakc service runs in its own (PrivateMounts=): a
// backup that works on its source for longer than the timeout without
// opening a file of the repository looks idle to systemd, which then
// unmounts the repository under it. bakc's services do not require the
// mount, so systemd no longer stops them with it (it did, systemd#3410
// and #40586, seen on 252 in a container: docs/nixos.md); the unmount
// then fails as busy and is retried, and on older kernels later accesses
// were seen to hang. "0" turns the timer off.
func checkIdleTimeout(it schema.Text) hcl.Diagnostics {
	name, value, _ := strings.Cut(it.Value, "=")
	if name != "x-systemd.idle-timeout" {
		return nil
	}
	if d, err := calendar.ParseTimespan(value); err == nil && d == 0 {
		return nil
	}
	return hcl.Diagnostics{warningAt(it.Range, "Idle timeout on a repository mount",
		"%q lets systemd unmount the repository when it looks idle, and it cannot see that a bakc service, in its own mount namespace, is still using it (systemd issues #3410 and #40586): during a long backup systemd tries to unmount the repository again and again. Remove the option (bakc's default mounts on first use and stays mounted), or set it to 0.", it.Value)}
}

// checkNFSMountpoint applies plan.CheckNFSMountpoint, the rule that
// Validate and the unit writer apply too, to a clean absolute
// mountpoint: every consumer of the mountpoint (the mount unit's Where=
// and name, NixOS's fstab line, RequiresMountsFor=, restic's --repo)
// must read it as the same path.
func checkNFSMountpoint(t *schema.Text) hcl.Diagnostics {
	if err := plan.CheckNFSMountpoint(t.Value); err != nil {
		return hcl.Diagnostics{errorAt(t.Range, "Invalid mountpoint",
			"%s. Choose a mountpoint of letters, digits and \"/_.-\", such as \"/mnt/nas-backup\".", capitalize(err.Error()))}
	}
	return nil
}

// checkMountOptionOrder keeps the options in the order written (mount
// reads them left to right and the later of two that set the same thing
// wins, so sorting them could flip "soft … hard" to "hard … soft"), and
// refuses every option that contradicts an earlier one
// (plan.MountOptionConflicts: soft and hard, ro and rw, sync and async,
// nfsvers=4.1 and vers=4.2 …), so that the order never decides anything.
// An option given twice is said once, with a warning.
func checkMountOptionOrder(items []schema.Text) ([]string, hcl.Diagnostics) {
	values := make([]string, len(items))
	for i, it := range items {
		values[i] = it.Value
	}
	var diags hcl.Diagnostics
	drop := map[int]bool{}
	for _, c := range plan.MountOptionConflicts(values) {
		first, second := items[c.First], items[c.Second]
		if c.Duplicate {
			drop[c.Second] = true
			diags = append(diags, warningAt(second.Range, "Duplicate mount option",
				"%q is already given at %s. Remove this one.", second.Value, at(first.Range)))
			continue
		}
		diags = append(diags, errorAt(second.Range, "Contradictory mount options",
			"%q contradicts %q at %s: mount would take the later one and ignore the other. Keep the one you mean.", second.Value, first.Value, at(first.Range)))
	}
	var out []string
	for i, v := range values {
		if !drop[i] {
			out = append(out, v)
		}
	}
	return out, diags
}

package emitfuzz

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"go.yaml.in/yaml/v3"
)

// slots are the string fields of the language, by name, with the value
// the base fleet has in each. The base fleet is valid and uses every
// block and attribute that holds a string, so that a fuzzed value in one
// field reaches the emitters with everything else in place.
var slots = []struct{ name, value string }{
	{"hostfile", "web.hcl"},
	{"nas.name", "nas-1"},
	{"nas.address", "nas-1.example.net"},
	{"nas.parent", "backup"},
	{"nas.mount_root", "/mnt/backup"},
	{"nas.capacity", "4T"},
	{"nas.dataset.name", "restic"},
	{"nas.dataset.quota", "300G"},
	{"nas.dataset.compression", "lz4"},
	{"nas.dataset.export_options[0]", "rw"},
	{"nas.recv.name", "recv"},
	{"nas.recv.property.key", "com.example:owner"},
	{"nas.recv.property.value", "ops team"},
	{"defaults.exclude[0]", "**/.cache"},
	{"defaults.schedule", "daily"},
	{"defaults.randomized_delay", "30m"},
	{"defaults.retention.within", "30d"},
	{"defaults.resources.cpu_quota", "50%"},
	{"defaults.resources.memory_max", "4G"},
	{"defaults.resources.timeout", "12h"},
	{"defaults.resources.io_class", "idle"},
	{"defaults.user.name", "bakc"},
	{"defaults.user.group", "bakc"},
	{"defaults.paths.plan", "/etc/bakc/plan.json"},
	{"defaults.paths.state", "/var/lib/bakc"},
	{"defaults.paths.cache", "/var/cache/bakc"},
	{"defaults.paths.log", "/var/log/bakc"},
	{"defaults.monitoring.textfile_dir", "/var/lib/node_exporter/textfile_collector"},
	{"defaults.monitoring.error_log", "/var/log/bakc/errors.jsonl"},
	{"defaults.monitoring.on_failure_unit", "notify@%n.service"},
	{"defaults.prune.schedule", "Sun *-*-* 03:30:00"},
	{"defaults.verify.schedule", "Sat *-*-* 03:30:00"},
	{"defaults.verify.read_data_subset", "5%"},
	{"defaults.restore_test.schedule", "*-*-01 04:30:00"},
	{"node.name", "web"},
	{"node.address", "web.example.net"},
	{"node.zfs.mountpoint", "/srv"},
	{"node.zfs.dataset", "tank/srv"},
	{"node.zfs.host_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIElRYuC2Xud34ga4jP7CwPz8oKWSDCnrRfQF3/A9j1C root@web"},
	{"repo.nfs.name", "nas"},
	{"repo.nfs.mountpoint", "/mnt/nas-backup"},
	{"repo.nfs.options[0]", "nfsvers=4.2"},
	{"repo.nfs.options[1]", "x-systemd.automount"},
	{"repo.nfs.password_file", "/run/secrets/restic"},
	{"repo.local.name", "local"},
	{"repo.local.path", "/data/restic"},
	{"repo.sftp.name", "offsite"},
	{"repo.sftp.url", "sftp:restic@nas-1.example.net:/srv/restic/web"},
	{"repo.sftp.identity_file", "/run/secrets/ssh-key"},
	{"repo.sftp.known_hosts[0]", "nas-1.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se"},
	{"repo.b2.name", "cloud"},
	{"repo.b2.url", "b2:bucket:/web"},
	{"repo.b2.environment_file", "/run/secrets/b2"},
	{"job.name", "www"},
	{"job.description", "The web site"},
	{"job.paths[0]", "/srv/www"},
	{"job.paths[1]", "/var/lib/app"},
	{"job.exclude[0]", "**/tmp"},
	{"job.tags[0]", "web"},
	{"job.schedule", "*-*-* 02:30:00"},
	{"job.randomized_delay", "10m"},
	{"job.snapshot", "none"},
	{"job.pre_backup", "echo start"},
	{"job.on_failure_unit", "alert@%n.service"},
	{"job.hook.command", "systemctl reload app\n"},
	{"job.hook.user", "app"},
	{"job.hook.packages[0]", "curl"},
	{"job.hook.path[0]", "/opt/app/bin"},
	{"job.hook.writes[0]", "/var/lib/app/flag"},
	{"dumpjob.name", "db"},
	{"dump.name", "postgres"},
	{"dump.command[0]", "pg_dumpall"},
	{"dump.command[1]", "--clean"},
	{"dump.user", "postgres"},
	{"dump.filename", "postgresql/all.sql"},
	{"dump.packages[0]", "postgresql"},
	{"dump.path[0]", "/usr/lib/postgresql/15/bin"},
	{"dump.restore_command[0]", "psql"},
	// Appended, so that the committed corpus's slot numbers keep their
	// meaning.
	{"notify.ping_url", "https://hc-ping.example.net/3f2a9c1e"},
	{"notify.failure_url", "https://ntfy.example.net/web-backups"},
	{"notify.failure_command[0]", "/usr/local/bin/page-oncall"},
	{"notify.failure_command[1]", "--quiet"},
	{"notify.timeout", "30s"},
	{"nas.replication.identity_file", "/run/secrets/bakc-replication-key"},
	{"nas.replication.public_key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE+tGQwqeUpu/56CW5SZqVZTWlSU1cwkYDzKcBR1wEBr bakc@nas-1"},
	{"nas.replication.from[0]", "192.0.2.5"},
	{"node.zfs.replication.schedule", "hourly"},
	{"sops.file", "secrets/web.yaml"},
	{"sops.key", "restic/b2-password"},
	{"repo.b2.compression", "max"},
	{"job.exclude_larger_than", "2G"},
	{"defaults.paths.docs", "/srv/backup-docs"},
}

// slotIndex maps a slot's name to its index in slots.
func slotIndex(name string) int {
	return slices.IndexFunc(slots, func(s struct{ name, value string }) bool { return s.name == name })
}

// fleet is a fleet to compile: the slots' values.
type fleet map[string]string

// baseFleet is the valid base: every slot at its value.
func baseFleet() fleet {
	f := fleet{}
	for _, s := range slots {
		f[s.name] = s.value
	}
	return f
}

// with sets slot i (modulo the number of slots) to v.
func (f fleet) with(i uint8, v string) fleet {
	f[slots[int(i)%len(slots)].name] = v
	return f
}

func str(v string) cty.Value { return cty.StringVal(v) }

// rootFile writes bakc.hcl.
func (f fleet) rootFile() []byte {
	file := hclwrite.NewEmptyFile()
	b := file.Body()
	nas := b.AppendNewBlock("nas", []string{f["nas.name"]}).Body()
	nas.SetAttributeValue("address", str(f["nas.address"]))
	nas.SetAttributeValue("parent", str(f["nas.parent"]))
	nas.SetAttributeValue("mount_root", str(f["nas.mount_root"]))
	nas.SetAttributeValue("capacity", str(f["nas.capacity"]))
	repl := nas.AppendNewBlock("replication", nil).Body()
	repl.SetAttributeValue("identity_file", str(f["nas.replication.identity_file"]))
	repl.SetAttributeValue("public_key", str(f["nas.replication.public_key"]))
	repl.SetAttributeValue("from", strs(f["nas.replication.from[0]"]))
	ds := nas.AppendNewBlock("dataset", []string{f["nas.dataset.name"]}).Body()
	ds.SetAttributeValue("quota", str(f["nas.dataset.quota"]))
	ds.SetAttributeValue("compression", str(f["nas.dataset.compression"]))
	ds.SetAttributeValue("export", str("nfs"))
	ds.SetAttributeValue("export_options", cty.ListVal([]cty.Value{str(f["nas.dataset.export_options[0]"]), str("sync"), str("root_squash")}))
	recv := nas.AppendNewBlock("dataset", []string{f["nas.recv.name"]}).Body()
	recv.SetAttributeValue("quota", str("500G"))
	recv.SetAttributeValue("receive", cty.True)
	recv.SetAttributeValue("properties", cty.MapVal(map[string]cty.Value{f["nas.recv.property.key"]: str(f["nas.recv.property.value"])}))

	d := b.AppendNewBlock("defaults", nil).Body()
	d.SetAttributeValue("exclude", cty.ListVal([]cty.Value{str(f["defaults.exclude[0]"])}))
	d.SetAttributeValue("schedule", str(f["defaults.schedule"]))
	d.SetAttributeValue("randomized_delay", str(f["defaults.randomized_delay"]))
	ret := d.AppendNewBlock("retention", nil).Body()
	ret.SetAttributeValue("daily", cty.NumberIntVal(7))
	ret.SetAttributeValue("within", str(f["defaults.retention.within"]))
	res := d.AppendNewBlock("resources", nil).Body()
	res.SetAttributeValue("cpu_quota", str(f["defaults.resources.cpu_quota"]))
	res.SetAttributeValue("memory_max", str(f["defaults.resources.memory_max"]))
	res.SetAttributeValue("timeout", str(f["defaults.resources.timeout"]))
	res.SetAttributeValue("io_class", str(f["defaults.resources.io_class"]))
	u := d.AppendNewBlock("user", nil).Body()
	u.SetAttributeValue("name", str(f["defaults.user.name"]))
	u.SetAttributeValue("group", str(f["defaults.user.group"]))
	p := d.AppendNewBlock("paths", nil).Body()
	for _, k := range []string{"plan", "state", "cache", "log", "docs"} {
		p.SetAttributeValue(k, str(f["defaults.paths."+k]))
	}
	m := d.AppendNewBlock("monitoring", nil).Body()
	for _, k := range []string{"textfile_dir", "error_log", "on_failure_unit"} {
		m.SetAttributeValue(k, str(f["defaults.monitoring."+k]))
	}
	d.AppendNewBlock("prune", nil).Body().SetAttributeValue("schedule", str(f["defaults.prune.schedule"]))
	v := d.AppendNewBlock("verify", nil).Body()
	v.SetAttributeValue("schedule", str(f["defaults.verify.schedule"]))
	v.SetAttributeValue("read_data_subset", str(f["defaults.verify.read_data_subset"]))
	d.AppendNewBlock("restore_test", nil).Body().SetAttributeValue("schedule", str(f["defaults.restore_test.schedule"]))
	return file.Bytes()
}

func strs(vs ...string) cty.Value {
	l := make([]cty.Value, len(vs))
	for i, v := range vs {
		l[i] = str(v)
	}
	return cty.ListVal(l)
}

// hostFile writes the node's host file.
func (f fleet) hostFile() []byte {
	file := hclwrite.NewEmptyFile()
	n := file.Body().AppendNewBlock("node", []string{f["node.name"]}).Body()
	n.SetAttributeValue("address", str(f["node.address"]))
	n.SetAttributeValue("nas", str(f["nas.name"]))
	z := n.AppendNewBlock("zfs", nil).Body()
	z.SetAttributeValue("datasets", cty.MapVal(map[string]cty.Value{f["node.zfs.mountpoint"]: str(f["node.zfs.dataset"])}))
	zr := z.AppendNewBlock("replication", nil).Body()
	zr.SetAttributeValue("host_key", str(f["node.zfs.host_key"]))
	zr.SetAttributeValue("schedule", str(f["node.zfs.replication.schedule"]))

	r := n.AppendNewBlock("repository", []string{f["repo.nfs.name"]}).Body()
	nfs := r.AppendNewBlock("nfs", nil).Body()
	nfs.SetAttributeValue("dataset", str(f["nas.dataset.name"]))
	nfs.SetAttributeValue("mountpoint", str(f["repo.nfs.mountpoint"]))
	nfs.SetAttributeValue("options", strs(f["repo.nfs.options[0]"], f["repo.nfs.options[1]"], "_netdev"))
	r.SetAttributeValue("password_file", str(f["repo.nfs.password_file"]))

	r = n.AppendNewBlock("repository", []string{f["repo.local.name"]}).Body()
	r.SetAttributeValue("path", str(f["repo.local.path"]))
	r.SetAttributeValue("password_file", str(f["repo.nfs.password_file"]))

	r = n.AppendNewBlock("repository", []string{f["repo.sftp.name"]}).Body()
	r.SetAttributeValue("url", str(f["repo.sftp.url"]))
	r.SetAttributeValue("password_file", str(f["repo.nfs.password_file"]))
	ssh := r.AppendNewBlock("ssh", nil).Body()
	ssh.SetAttributeValue("identity_file", str(f["repo.sftp.identity_file"]))
	ssh.SetAttributeValue("known_hosts", strs(f["repo.sftp.known_hosts[0]"]))

	r = n.AppendNewBlock("repository", []string{f["repo.b2.name"]}).Body()
	r.SetAttributeValue("url", str(f["repo.b2.url"]))
	r.SetAttributeValue("password_file", cty.ObjectVal(map[string]cty.Value{"sops": str(f["sops.file"]), "key": str(f["sops.key"])}))
	r.SetAttributeValue("environment_file", str(f["repo.b2.environment_file"]))
	r.SetAttributeValue("compression", str(f["repo.b2.compression"]))

	j := n.AppendNewBlock("job", []string{f["job.name"]}).Body()
	j.SetAttributeValue("description", str(f["job.description"]))
	j.SetAttributeValue("paths", strs(f["job.paths[0]"], f["job.paths[1]"]))
	j.SetAttributeValue("exclude", strs(f["job.exclude[0]"]))
	j.SetAttributeValue("tags", strs(f["job.tags[0]"]))
	j.SetAttributeValue("schedule", str(f["job.schedule"]))
	j.SetAttributeValue("randomized_delay", str(f["job.randomized_delay"]))
	j.SetAttributeValue("snapshot", str(f["job.snapshot"]))
	j.SetAttributeValue("pre_backup", str(f["job.pre_backup"]))
	j.SetAttributeValue("on_failure_unit", str(f["job.on_failure_unit"]))
	j.SetAttributeValue("exclude_larger_than", str(f["job.exclude_larger_than"]))
	j.SetAttributeValue("repositories", strs(f["repo.nfs.name"], f["repo.local.name"], f["repo.sftp.name"], f["repo.b2.name"]))
	nt := j.AppendNewBlock("notify", nil).Body()
	nt.SetAttributeValue("ping_url", str(f["notify.ping_url"]))
	nt.SetAttributeValue("failure_url", str(f["notify.failure_url"]))
	nt.SetAttributeValue("failure_command", strs(f["notify.failure_command[0]"], f["notify.failure_command[1]"]))
	nt.SetAttributeValue("timeout", str(f["notify.timeout"]))
	h := j.AppendNewBlock("hook", []string{"post_backup"}).Body()
	h.SetAttributeValue("command", str(f["job.hook.command"]))
	h.SetAttributeValue("user", str(f["job.hook.user"]))
	h.SetAttributeValue("packages", strs(f["job.hook.packages[0]"]))
	h.SetAttributeValue("path", strs(f["job.hook.path[0]"]))
	h.SetAttributeValue("writes", strs(f["job.hook.writes[0]"]))

	dj := n.AppendNewBlock("job", []string{f["dumpjob.name"]}).Body()
	dj.SetAttributeValue("repositories", strs(f["repo.local.name"]))
	dump := dj.AppendNewBlock("dump", []string{f["dump.name"]}).Body()
	dump.SetAttributeValue("command", strs(f["dump.command[0]"], f["dump.command[1]"]))
	dump.SetAttributeValue("user", str(f["dump.user"]))
	dump.SetAttributeValue("filename", str(f["dump.filename"]))
	dump.SetAttributeValue("packages", strs(f["dump.packages[0]"]))
	dump.SetAttributeValue("path", strs(f["dump.path[0]"]))
	dump.SetAttributeValue("restore_command", strs(f["dump.restore_command[0]"], "-X"))
	return file.Bytes()
}

// rawKey, when set, is written in place of rawMarker into the files'
// bytes: a value hclwrite cannot carry (bytes that are not UTF-8).
const (
	rawKey    = "raw bytes"
	rawMarker = "RAWMARKER"
)

func (f fleet) raw(data []byte) []byte {
	if v, ok := f[rawKey]; ok {
		return bytes.ReplaceAll(data, []byte(rawMarker), []byte(v))
	}
	return data
}

// write writes the fleet into dir and returns the host file's path;
// "" when the host file's name cannot be a file name here (a slash, a
// NUL, too long, or a name the loader would not read as a host file).
func (f fleet) write(dir string) (string, error) {
	name := f["hostfile"]
	if name == "" || strings.ContainsAny(name, "/\x00") || len(name) > 200 || name == "." || name == ".." ||
		strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".hcl") || name == "bakc.hcl" {
		return "", nil
	}
	if err := os.WriteFile(filepath.Join(dir, "bakc.hcl"), f.raw(f.rootFile()), 0o644); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "hosts"), 0o755); err != nil {
		return "", err
	}
	if err := f.writeSopsFile(dir); err != nil {
		return "", err
	}
	host := filepath.Join(dir, "hosts", name)
	return host, os.WriteFile(host, f.raw(f.hostFile()), 0o644)
}

// writeSopsFile writes the sops file the b2 repository's password names,
// holding its key, when the name is one a file can have below dir (the
// compiler refuses the others, located). It is not encrypted: it has the
// shape the compiler checks, as sops-nix's check mode does (a sops
// metadata map, the key's levels), and nothing here decrypts it. The
// real sops's files are proven in compiler TestSopsSecrets and cmd/bakc's
// init tests.
func (f fleet) writeSopsFile(dir string) error {
	file, key := f["sops.file"], f["sops.key"]
	if !filepath.IsLocal(file) || strings.ContainsRune(file, 0) || len(file) > 200 || !utf8.ValidString(key) {
		return nil
	}
	tree := map[string]any{"sops": map[string]any{"mac": "ENC[AES256_GCM,data:stand-in,type:str]", "version": "3.13.3"}}
	levels := strings.Split(key, "/")
	level := tree
	for _, name := range levels[:len(levels)-1] {
		next := map[string]any{}
		level[name] = next
		level = next
	}
	level[levels[len(levels)-1]] = "ENC[AES256_GCM,data:stand-in,type:str]"
	data, err := yaml.Marshal(tree)
	if err != nil {
		return nil // a key YAML cannot hold: the compiler finds no such key
	}
	path := filepath.Join(dir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil // a name whose folder is a file here: missing, refused
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil
	}
	return nil
}

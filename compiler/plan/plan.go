// Package plan holds the resolved, versioned form of a node's backup
// configuration: the only thing the emitters (backup.nix, unit files,
// runbook) and the runtime (`bakc run`) ever read.
//
// A plan is plain data. It holds no HCL, no source ranges and no secrets
// (only paths to secret files). Every default is already merged, every
// reference already resolved and every list already sorted, so that two
// compiles of the same input give the same bytes and a consumer never has
// to know the language's rules.
//
// Changing the meaning of a field, or removing one, is a new Version.
// Adding an optional field is not.
package plan

import "strings"

// Version is the plan format this build writes and reads.
const Version = 1

// Plan is one node's complete, resolved backup configuration.
type Plan struct {
	// Version is always plan.Version when written by this build.
	Version int `json:"version"`
	// Source is the host file the plan was compiled from, relative to the
	// fleet root and slash-separated, so that generated files can say
	// where they came from without leaking the compiling machine's paths.
	Source string `json:"source"`
	// Node is the host being backed up.
	Node Node `json:"node"`
	// User is the dedicated backup user; its uid and gid are fixed so that
	// the NAS can give repository datasets to it and squash root.
	User User `json:"user"`
	// Paths are the folders the runtime keeps its own state in.
	Paths Paths `json:"paths"`
	// Monitoring says where metrics and error lines go.
	Monitoring Monitoring `json:"monitoring"`
	// Repositories, sorted by name.
	Repositories []Repository `json:"repositories"`
	// Jobs, sorted by name.
	Jobs []Job `json:"jobs"`
	// Secrets are the secret files bakc declares to a secrets tool
	// (sops-nix), sorted by name; see Secret.
	Secrets []Secret `json:"secrets,omitempty"`
	// Replication, when the node's NAS pulls its ZFS datasets
	// (docs/replication.md); nil otherwise.
	Replication *Replication `json:"replication,omitempty"`
}

// Node is the host whose data is backed up.
type Node struct {
	Name string `json:"name"`
	// Address is the node's network name; the NAS exports to it.
	Address string `json:"address,omitempty"`
	// NAS is the name of the node's storage host, if it has one.
	NAS string `json:"nas,omitempty"`
	// Datasets are the node's declared ZFS datasets, sorted by mountpoint.
	Datasets []Dataset `json:"datasets,omitempty"`
}

// Dataset is a ZFS dataset of the node and where it is mounted.
type Dataset struct {
	Mountpoint string `json:"mountpoint"`
	Name       string `json:"name"`
}

// User is the backup user and group, the same on the node and the NAS.
type User struct {
	Name  string `json:"name"`
	Group string `json:"group"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
}

// Paths are the runtime's own folders, all absolute.
type Paths struct {
	// Plan is where the installed plan is read from by the units.
	Plan string `json:"plan"`
	// State holds locks and run state (one lock file per job).
	State string `json:"state"`
	// Cache is restic's cache folder (--cache-dir).
	Cache string `json:"cache"`
	// Log holds the error log.
	Log string `json:"log"`
	// KnownHosts is the file that holds the host keys the node's sftp
	// repositories declare inline (SSH.KnownHosts of each), next to the
	// plan; the units install it (a file of `bakc units`, or
	// environment.etc on NixOS). Empty when no repository declares any.
	KnownHosts string `json:"known_hosts,omitempty"`
	// Docs is the folder the node's runbook is linked into as
	// runbook.md (the seed kept its documentation in
	// /var/lib/backup-docs); empty in plans that do not set it, which
	// means DefaultDocs. See DocsDir.
	Docs string `json:"docs,omitempty"`
}

// DefaultDocs is Paths.Docs when the configuration sets none.
const DefaultDocs = "/var/lib/backup-docs"

// DocsDir is the folder the runbook is linked into: Docs, or
// DefaultDocs.
func (p Paths) DocsDir() string {
	if p.Docs == "" {
		return DefaultDocs
	}
	return p.Docs
}

// Monitoring says where the runtime reports to.
type Monitoring struct {
	// TextfileDir is node_exporter's textfile collector folder; metrics
	// files are written there atomically.
	TextfileDir string `json:"textfile_dir"`
	// ErrorLog is the file that receives one JSON line per failure.
	ErrorLog string `json:"error_log"`
	// OnFailureUnit, if set, is the systemd unit every service names in
	// OnFailure= (a job may override it).
	OnFailureUnit string `json:"on_failure_unit,omitempty"`
	// Grace is a systemd time span that `bakc alerts` adds to a task's
	// longest gap between runs and its randomized delay before it calls
	// the task overdue: the longest a run may take, and some slack.
	// Empty in plans of builds before it (the alerts then take
	// DefaultGrace).
	Grace string `json:"grace,omitempty"`
}

// DefaultGrace is Monitoring.Grace when the configuration sets none.
const DefaultGrace = "1h"

// Repository kinds. NFS and Local repositories are folders on the node;
// the others are restic URLs.
const (
	KindNFS    = "nfs"
	KindLocal  = "local"
	KindSFTP   = "sftp"
	KindREST   = "rest"
	KindS3     = "s3"
	KindB2     = "b2"
	KindAzure  = "azure"
	KindGS     = "gs"
	KindSwift  = "swift"
	KindRclone = "rclone"
)

// Repository is a restic repository the node writes to.
type Repository struct {
	Name string `json:"name"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// URL is what restic gets as --repo: a folder for nfs and local, the
	// restic URL otherwise.
	URL string `json:"url"`
	// PasswordFile is the path of the file holding the repository
	// password (--password-file). Never under /nix/store.
	PasswordFile string `json:"password_file"`
	// EnvironmentFile, if set, holds KEY=value lines (cloud credentials)
	// given to restic's environment. Never under /nix/store.
	EnvironmentFile string `json:"environment_file,omitempty"`
	// Compression is restic's --compression for every call on the
	// repository (one of CompressionModes); empty leaves restic's
	// default (auto).
	Compression string `json:"compression,omitempty"`
	// LimitUpload and LimitDownload are restic's --limit-upload and
	// --limit-download in KiB/s; 0 for none.
	LimitUpload   int `json:"limit_upload,omitempty"`
	LimitDownload int `json:"limit_download,omitempty"`
	// NFS describes the mount of an nfs repository; nil otherwise.
	NFS *NFSMount `json:"nfs,omitempty"`
	// Mountpoint, for a local repository, is where the disk it lives on
	// is mounted (its URL is this folder or below it; "/" for the root
	// file system). The runtime refuses the repository while the disk is
	// not mounted there. Empty when the plan does not say; the runtime
	// then refuses to initialise it on the root file system.
	Mountpoint string `json:"mountpoint,omitempty"`
	// SSH is how restic's ssh reaches an sftp repository; nil otherwise.
	SSH *SSH `json:"ssh,omitempty"`
	// Init allows the runtime to run `restic init` when the repository
	// does not exist yet. Off by default: a missing repository is usually
	// a mount that did not happen, not a new one.
	Init bool `json:"init,omitempty"`
	// Default is false for a repository the configuration marks
	// default = false: a job that lists no repositories does not write
	// to it (only the jobs that name it do). nil (absent) is true, as
	// every repository was before the attribute. It only explains the
	// jobs' lists (the runbook says why a job writes where it does):
	// Job.Repositories is already resolved. See JobDefault.
	Default *bool `json:"default,omitempty"`
	// Retention is the repository's own forget policy, nil when it has
	// none: it replaces the job's in this repository, for every job
	// (Job.RepositoryRetention holds the result per job, which is what
	// the runtime reads).
	Retention *Retention `json:"retention,omitempty"`
	// Prune removes unreferenced data on its own schedule.
	Prune Prune `json:"prune"`
	// Verify runs `restic check`; nil when the node declares no verify.
	Verify *Verify `json:"verify,omitempty"`
	// RestoreTest restores random files and compares them; nil when the
	// node declares no restore_test.
	RestoreTest *RestoreTest `json:"restore_test,omitempty"`
}

// JobDefault reports whether a job that lists no repositories writes
// to r.
func (r *Repository) JobDefault() bool { return r.Default == nil || *r.Default }

// NFSMount is an NFS export of the node's NAS, mounted on the node.
type NFSMount struct {
	// NAS is the name of the NAS, Server its address.
	NAS    string `json:"nas"`
	Server string `json:"server"`
	// Dataset is the full ZFS dataset name on the NAS.
	Dataset string `json:"dataset"`
	// Export is the exported path on the NAS (its mount_root/node/dataset).
	Export string `json:"export"`
	// Mountpoint is where the export is mounted on the node.
	Mountpoint string `json:"mountpoint"`
	// Quota is the quota of the dataset on the NAS in bytes, 0 when it
	// has none: `bakc alerts` warns before the repository reaches it.
	Quota int64 `json:"quota,omitempty"`
	// Options are the mount options in the order the configuration
	// writes them (mount reads them left to right), each once and none
	// contradicting another (plan.MountOptionConflicts). Until issue 9
	// they were sorted; a sorted list without conflicts means the same.
	Options []string `json:"options"`
}

// Source returns the NFS source as fstab, mount.nfs and mountinfo write
// it: "server:/export", with an IPv6 server in brackets
// ("[fd00::1]:/export"). mount.nfs (nfs-utils' parse_dev.c) and the
// kernel (nfs_parse_source) split an unbracketed source at its first
// colon, and the kernel brackets a server with a colon itself when it
// names an NFSv4 mount in mountinfo (do_nfs4_mount: "[%s]:/").
func (m NFSMount) Source() string {
	if strings.Contains(m.Server, ":") {
		return "[" + m.Server + "]:" + m.Export
	}
	return m.Server + ":" + m.Export
}

// SSH is how restic reaches an sftp repository: its ssh runs as the
// backup user, whose home has no key and no known_hosts, so every file
// it needs is named here and nothing else is read (Command).
type SSH struct {
	// User, Host and Port are the URL's, as restic reads an sftp URL;
	// User and Port are empty when the URL has none.
	User string `json:"user,omitempty"`
	Host string `json:"host"`
	Port string `json:"port,omitempty"`
	// IdentityFile is the private key (a secret: never under
	// /nix/store).
	IdentityFile string `json:"identity_file"`
	// KnownHostsFile is the known_hosts file ssh checks the server's
	// key against: the user's own, or Paths.KnownHosts.
	KnownHostsFile string `json:"known_hosts_file"`
	// KnownHosts are the known_hosts lines the configuration gives
	// inline (public keys), as written; they are in KnownHostsFile.
	KnownHosts []string `json:"known_hosts,omitempty"`
}

// Command is the ssh command line restic starts for the repository
// (its sftp.command), program first: no configuration file (-F none),
// exactly the declared key (IdentitiesOnly, no agent) and host keys
// (StrictHostKeyChecking, no global file), never a question
// (BatchMode), a bounded connect and a dead server found within five
// minutes; then the sftp subsystem on the URL's host.
func (s *SSH) Command(program string) []string {
	argv := []string{program,
		"-F", "none",
		"-i", s.IdentityFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + s.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
		"-o", "CheckHostIP=no",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=30",
		"-o", "ServerAliveInterval=60",
		"-o", "ServerAliveCountMax=5",
	}
	if s.Port != "" {
		argv = append(argv, "-p", s.Port)
	}
	if s.User != "" {
		argv = append(argv, "-l", s.User)
	}
	return append(argv, "-s", "--", s.Host, "sftp")
}

// Schedule is when a timer fires.
type Schedule struct {
	// Calendar is a systemd calendar expression (OnCalendar=), already
	// validated.
	Calendar string `json:"calendar"`
	// RandomizedDelay is a systemd time span (RandomizedDelaySec=), so
	// that a fleet does not reach its NAS all at once. Empty for none.
	RandomizedDelay string `json:"randomized_delay,omitempty"`
}

// Prune is a repository's `restic prune` task.
type Prune struct {
	Schedule Schedule `json:"schedule"`
}

// Verify is a repository's `restic check` task.
type Verify struct {
	Schedule Schedule `json:"schedule"`
	// ReadDataSubset is given to --read-data-subset ("5%", "1/10",
	// "500M"); empty checks the structure only.
	ReadDataSubset string `json:"read_data_subset,omitempty"`
}

// RestoreTest is a repository's restore test task.
type RestoreTest struct {
	Schedule Schedule `json:"schedule"`
	// Files is how many random regular files are restored and compared.
	Files int `json:"files"`
}

// Snapshot modes of a job.
const (
	SnapshotNone = "none"
	SnapshotZFS  = "zfs"
)

// Job is one backup job: what, when, where, how long, how.
type Job struct {
	Name string `json:"name"`
	// Description is free text for unit descriptions and the runbook.
	Description string `json:"description,omitempty"`
	// Disabled is a job the configuration keeps with enabled = false: it
	// is in the plan for the runbook (its snapshots and how to restore
	// them), gets no unit and no timer, and the runtime refuses to run
	// it.
	Disabled bool `json:"disabled,omitempty"`
	// Paths are absolute, clean and sorted; none is inside another.
	// Empty for a job that only dumps (Dumps).
	Paths []string `json:"paths"`
	// Exclude are restic exclude patterns: the defaults' first, then the
	// job's own, without duplicates.
	Exclude []string `json:"exclude,omitempty"`
	// ExcludeCaches is restic backup's --exclude-caches: leave out the
	// contents of folders marked with a CACHEDIR.TAG file.
	ExcludeCaches bool `json:"exclude_caches,omitempty"`
	// OneFileSystem is restic backup's --one-file-system: do not cross
	// into another file system mounted below a path.
	OneFileSystem bool `json:"one_file_system,omitempty"`
	// ExcludeLargerThan is restic backup's --exclude-larger-than, as
	// restic reads it (CheckResticSize); empty for none.
	ExcludeLargerThan string `json:"exclude_larger_than,omitempty"`
	// ReadConcurrency is restic backup's --read-concurrency (restic ≥
	// 0.15); 0 leaves restic's default.
	ReadConcurrency int `json:"read_concurrency,omitempty"`
	// Repositories are names of Plan.Repositories, sorted.
	Repositories []string `json:"repositories"`
	// DefaultRepositories is true when the job lists no repositories of
	// its own and so writes to the node's default ones (those without
	// default = false); false when it names them.
	DefaultRepositories bool `json:"default_repositories,omitempty"`
	// Schedule is when the job's timer fires.
	Schedule Schedule `json:"schedule"`
	// Retention is applied by `restic forget` after a successful backup,
	// in every repository of the job but those of RepositoryRetention.
	Retention Retention `json:"retention"`
	// RepositoryRetention is, by repository name, the policy that
	// applies to this job in a repository whose own retention replaces
	// the job's (Repository.Retention). Keys are among Repositories.
	// RetentionIn says which policy applies where.
	RepositoryRetention map[string]Retention `json:"repository_retention,omitempty"`
	// Tags are given to every snapshot, sorted; JobTag is among them.
	Tags []string `json:"tags"`
	// JobTag is the tag that names the job; forget is scoped by it.
	JobTag string `json:"job_tag"`
	// Snapshot is SnapshotZFS or SnapshotNone.
	Snapshot string `json:"snapshot"`
	// Datasets are, for a ZFS snapshot job, the declared datasets the
	// job reads: the dataset holding each path (longest mountpoint
	// prefix) and every declared dataset mounted below a path. Sorted by
	// mountpoint, so a parent comes before its children.
	Datasets []Dataset `json:"datasets,omitempty"`
	// Hooks are shell commands run with `sh -c`.
	Hooks Hooks `json:"hooks"`
	// Dumps are commands whose output restic backs up from stdin, one
	// snapshot per dump and repository, sorted by name (see Dump).
	Dumps []Dump `json:"dumps,omitempty"`
	// Resources limit the job's service.
	Resources Resources `json:"resources"`
	// OnFailureUnit overrides Monitoring.OnFailureUnit for this job.
	OnFailureUnit string `json:"on_failure_unit,omitempty"`
	// Notify are the job's notifications from the node; nil for none.
	Notify *Notify `json:"notify,omitempty"`
}

// OneFileSystemLeavesOut returns a dataset of a ZFS snapshot job with
// OneFileSystem that restic would leave out: one mounted strictly below
// a job path. The runtime shows each dataset's snapshot at its own
// mountpoint, a file system of its own, which --one-file-system does not
// enter; the backup would report success without it.
func (j *Job) OneFileSystemLeavesOut() (Dataset, bool) {
	if !j.OneFileSystem || j.Snapshot != SnapshotZFS {
		return Dataset{}, false
	}
	for _, d := range j.Datasets {
		for _, p := range j.Paths {
			if d.Mountpoint != p && IsUnder(d.Mountpoint, p) {
				return d, true
			}
		}
	}
	return Dataset{}, false
}

// RetentionIn is the forget policy of the job in the repository named
// repo: the repository's own when it has one (RepositoryRetention),
// the job's otherwise.
func (j *Job) RetentionIn(repo string) Retention {
	if r, ok := j.RepositoryRetention[repo]; ok {
		return r
	}
	return j.Retention
}

// Notify is what the runtime calls, besides the metrics, to say how a
// job's run went, for users without Prometheus (runtime/notify.go). A
// notification that fails is logged and written to the error log; it
// never fails the backup.
type Notify struct {
	// PingURL is a healthchecks.io-style check: the runtime requests
	// PingURL+"/start" when a run starts, PingURL when it succeeded and
	// PingURL+"/fail" when it failed. http or https.
	PingURL string `json:"ping_url,omitempty"`
	// FailureURL receives an ntfy-style POST when a run failed: the
	// message as the body, a Title and Priority header.
	FailureURL string `json:"failure_url,omitempty"`
	// FailureCommand is run without a shell when a run failed, with the
	// message on stdin and in the environment (BAKC_ERROR…).
	FailureCommand []string `json:"failure_command,omitempty"`
	// Timeout bounds each call (a systemd time span).
	Timeout string `json:"timeout"`
}

// DefaultNotifyTimeout is Notify.Timeout when the configuration sets none.
const DefaultNotifyTimeout = "10s"

// Retention is a restic forget policy. Zero means "not used". Within is
// a restic duration ("2y5m7d3h") for --keep-within, empty when unused.
type Retention struct {
	Last    int    `json:"last,omitempty"`
	Hourly  int    `json:"hourly,omitempty"`
	Daily   int    `json:"daily,omitempty"`
	Weekly  int    `json:"weekly,omitempty"`
	Monthly int    `json:"monthly,omitempty"`
	Yearly  int    `json:"yearly,omitempty"`
	Within  string `json:"within,omitempty"`
}

// Hooks are the job's shell hooks; empty strings are not run.
type Hooks struct {
	PreBackup  string `json:"pre_backup,omitempty"`
	PostBackup string `json:"post_backup,omitempty"`
	OnFailure  string `json:"on_failure,omitempty"`
	// Needs says, by hook name ("pre_backup"), what a hook declared in
	// a hook block runs with. A hook without an entry runs as the
	// service's user with the service's PATH (see Needs).
	Needs map[string]Needs `json:"needs,omitempty"`
}

// Resources are the limits of a job's service, in systemd's own syntax.
type Resources struct {
	// Nice is the CPU niceness, -20..19.
	Nice int `json:"nice"`
	// IOSchedulingClass is "idle", "best-effort" or "realtime".
	IOSchedulingClass string `json:"io_scheduling_class"`
	// CPUQuota is a percentage such as "50%"; empty for none.
	CPUQuota string `json:"cpu_quota,omitempty"`
	// MemoryMax is a size such as "2G"; empty for none.
	MemoryMax string `json:"memory_max,omitempty"`
	// TimeoutStart is a systemd time span such as "6h"; empty for none.
	TimeoutStart string `json:"timeout_start,omitempty"`
}

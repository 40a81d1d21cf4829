package schema

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2"
)

// Users come to bakc from other configurations: the hand-written NixOS
// backup module bakc replaces (its jobs have enable, excludePatterns,
// preBackupScript; its repositories primary) and nixpkgs'
// services.restic.backups (passwordFile, timerConfig,
// backupPrepareCommand, …). HCL says of such a name only that it "is
// not expected here", and its "Did you mean" finds bakc's name only when
// the spelling is close. foreignNames says what bakc calls it, per block
// type; bodyContent puts that into HCL's diagnostic.
var foreignNames = map[string]map[string]string{
	"job": merge(
		same(`bakc calls it "enabled": a job runs unless it says enabled = false, which keeps it in the plan and the runbook without a unit.`,
			"enable", "disable", "disabled"),
		same(`bakc calls it "exclude": a list of restic patterns, added after bakc.hcl's defaults.exclude (exclude_defaults = false leaves those out).`,
			"excludePatterns", "exclude_patterns", "excludes", "excludeFile", "exclude_file"),
		same(`bakc calls it "pre_backup": a shell command run before the snapshot; a hook "pre_backup" { … } block also says its user, packages and what it writes.`,
			"preBackupScript", "pre_backup_script", "preBackup", "backupPrepareCommand", "prepare"),
		same(`bakc calls it "post_backup": a shell command run after a successful backup ("on_failure" runs after a failed one).`,
			"postBackupScript", "post_backup_script", "postBackup", "backupCleanupCommand"),
		same(`bakc calls it "on_failure" (a shell command run after a failed backup), or "on_failure_unit" (a systemd unit for OnFailure=).`,
			"onFailure", "onFailureScript", "on_failure_script"),
		same(`bakc calls it "schedule": a systemd calendar expression such as "daily" or "*-*-* 02:30".`,
			"timerConfig", "startAt", "OnCalendar", "calendar", "frequency", "interval", "cron"),
		same(`bakc calls it "repositories": a list of names of the node's repository blocks; a job without it writes to every repository of the node.`,
			"repository", "repo", "repos", "repositoryFile"),
		same(`bakc's retention is a block: retention { daily = 7  weekly = 4 }, applied by restic forget after each successful backup.`,
			"pruneOpts", "keep", "keepDaily", "keep_daily"),
		same(`This belongs in the node's repository block, which a job names with repositories = ["…"].`,
			"passwordFile", "password_file", "environmentFile", "environment_file", "initialize", "init", "primary", "url"),
		same(`bakc takes no free-form restic arguments (each would have to be checked against the restic the node runs); the job's restic options are exclude_caches, one_file_system, exclude_larger_than and read_concurrency; a repository's compression, limit_upload and limit_download.`,
			"extraBackupArgs", "extra_backup_args", "extraOptions", "extra_options", "resticArgs", "restic_args"),
		same(`A job runs as the backup user (the user block); a hook or a dump that must run as another user says so: hook "pre_backup" { user = "postgres" … }.`,
			"user"),
	),
	"repository": merge(
		same(`bakc calls it "default": a job that lists no repositories writes to every repository of its node but those with default = false, which only the jobs that name them in repositories = ["…"] write to. For a secondary repository (primary = false), write default = false.`,
			"primary", "secondary", "job_default", "isDefault"),
		same(`bakc calls it "password_file".`, "passwordFile", "password_command", "passwordCommand"),
		same(`bakc calls it "environment_file": a systemd EnvironmentFile= with the repository's credentials.`, "environmentFile"),
		same(`bakc says where a repository is with "url" (sftp:, rest:, s3:, b2: …), "path" (a local folder) or an nfs { … } block (an export of the node's NAS).`,
			"repository", "repositoryFile", "repo", "location"),
		same(`bakc calls it "init": true lets a backup run restic init when the repository does not exist yet.`, "initialize", "initialise", "create"),
		same(`A repository is used by the jobs that name it in repositories = ["…"] (or by every job of the node that names none): remove the block, or list the repositories in each job.`,
			"enable", "enabled"),
		same(`bakc's retention is a block: retention { daily = 7  weekly = 4 } in the repository applies to every job there, in place of the job's own; the repository's prune { schedule = "…" } block says when restic prune runs.`,
			"pruneOpts", "keep", "keepDaily", "keep_daily"),
		same(`bakc calls it "verify": verify { schedule = "weekly"  read_data_subset = "5%" } runs restic check.`,
			"checkOpts", "runCheck", "check"),
	),
	"node": merge(
		same(`A node is backed up while its host file is in the fleet; to stop one job, set enabled = false in it.`,
			"enable", "enabled"),
		same(`bakc calls it "address": the node's DNS name or IP address, which the NAS exports to.`,
			"hostname", "hostName", "host", "ip"),
		same(`Each job is a block of its own: job "name" { paths = [ … ] }.`, "jobs", "backups"),
		same(`Each repository is a block of its own: repository "name" { … }.`, "repositories", "repos"),
		same(`Excludes belong in a job (exclude = [ … ]), or in bakc.hcl's defaults for every job.`,
			"exclude", "excludePatterns", "exclude_patterns"),
	),
	"defaults": merge(
		same(`bakc calls it "exclude": restic patterns put before every job's own.`,
			"excludePatterns", "exclude_patterns", "excludes"),
		same(`bakc calls it "schedule": a systemd calendar expression such as "daily".`,
			"timerConfig", "startAt", "OnCalendar", "calendar"),
		same(`bakc's retention is a block: retention { daily = 7  weekly = 4 }.`, "pruneOpts", "keep"),
	),
}

// same maps each of names to hint.
func same(hint string, names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = hint
	}
	return m
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			if _, dup := out[k]; dup {
				panic("schema: foreign name " + k + " twice in one block")
			}
			out[k] = v
		}
	}
	return out
}

// unsupportedName finds the name in HCL's diagnostic for an argument or
// block the schema does not have, in the native syntax ("An argument
// named %q is not expected here.", "Blocks of type %q are not expected
// here.") and in JSON ("No argument or block type is named %q.").
// TestForeignNamesHintedInBothSyntaxes fails if hcl changes them.
var unsupportedName = regexp.MustCompile(`^(?:An argument named|Blocks of type|No argument or block type is named) ("(?:[^"\\]|\\.)*")`)

// bodyContent is body.Content(schema) for a block of type block, with
// the hint of foreignNames in place of HCL's suggestion where a name
// from another configuration is not expected.
func bodyContent(body hcl.Body, schema *hcl.BodySchema, block string) (*hcl.BodyContent, hcl.Diagnostics) {
	content, diags := body.Content(schema)
	hints := foreignNames[block]
	for _, d := range diags {
		switch d.Summary {
		case "Unsupported argument", "Unsupported block type", "Extraneous JSON object property":
		default:
			continue
		}
		m := unsupportedName.FindStringSubmatch(d.Detail)
		if m == nil {
			continue
		}
		name, err := strconv.Unquote(m[1])
		if err != nil {
			continue
		}
		if hint, ok := hints[name]; ok {
			d.Detail = fmt.Sprintf("A %s block has no %q. %s", block, name, hint)
		}
	}
	return content, diags
}

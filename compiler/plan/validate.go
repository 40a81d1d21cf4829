package plan

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/escape"
)

// Validate checks a decoded plan against what the compiler guarantees,
// because the runtime acts on it as root: a job name becomes a lock,
// state and metrics file name, a path is backed up or written to, a
// snapshot mode decides whether the live tree is read, a repository kind
// whether its mount is checked. A plan written by hand, by another build
// or damaged on disk is refused whole, with every problem named by its
// field (jobs[2].paths[0]), rather than run half-understood.
//
// Two tables say what is checked. fieldRules has one row per field of
// the plan, by its path with [] for any list index, with the rules of
// that field alone; a field added to the plan needs a row
// (TestEveryFieldHasARule fails without one). planRules are the checks
// that relate fields to each other: references, uniqueness, order, a
// kind and its mount, a snapshot mode and its datasets.
//
// What Validate does not check is where the folders are (the compiler's
// CheckPlacement, for the outputs it writes to a host): the runtime runs
// a plan wherever its paths point, and its tests run plans in temporary
// folders.
func (p *Plan) Validate() error {
	v := &validator{plan: p}
	if p.Version != Version {
		v.fail("version", fmt.Errorf("plan version %d, but this bakc reads version %d: recompile the plan with this bakc", p.Version, Version))
		return v.err()
	}
	v.walk(reflect.ValueOf(p).Elem(), "", "")
	for _, r := range planRules {
		r(v, p)
	}
	return v.err()
}

// A rule checks the value of one field; the value is a string, an int,
// a bool, a list or a struct, as the field is.
type rule func(v reflect.Value) error

// fieldRules are the rules of every field of the plan. A field with no
// rule to apply has an empty row, which says that it was thought about.
var fieldRules = map[string][]rule{
	"version": nil, // compared first, before anything else is read
	"source":  {required, text(CheckSource)},

	"node":                       nil,
	"node.name":                  {text(name(NameNode))},
	"node.address":               {optional(checkAddressToken)},
	"node.nas":                   {optional(name(NameNAS))},
	"node.datasets":              nil,
	"node.datasets[]":            nil,
	"node.datasets[].mountpoint": {text(CheckAbsPath)},
	"node.datasets[].name":       {text(CheckDatasetName)},

	"user":       nil,
	"user.name":  {text(CheckUserName)},
	"user.group": {text(CheckUserName)},
	"user.uid":   {number(CheckUserID)},
	"user.gid":   {number(CheckUserID)},

	"paths":             nil,
	"paths.plan":        {text(CheckAbsPath)},
	"paths.state":       {text(checkRuntimePath)},
	"paths.cache":       {text(checkRuntimePath)},
	"paths.log":         {text(checkRuntimePath)},
	"paths.known_hosts": {optional(CheckAbsPath)},
	"paths.docs":        {optional(checkRuntimePath)},

	"monitoring":                 nil,
	"monitoring.textfile_dir":    {text(checkRuntimePath)},
	"monitoring.error_log":       {text(checkRuntimePath), text(notRoot)},
	"monitoring.on_failure_unit": {optional(checkUnitName)},
	"monitoring.grace":           {optional(checkTimespan)},

	"repositories":                                          nil,
	"repositories[]":                                        nil,
	"repositories[].name":                                   {text(name(NameRepository))},
	"repositories[].kind":                                   {text(oneOf(Kinds))},
	"repositories[].url":                                    {required, text(checkLine)},
	"repositories[].password_file":                          {text(checkSecretFile)},
	"repositories[].environment_file":                       {optional(checkSecretFile)},
	"repositories[].compression":                            {optional(oneOf(CompressionModes))},
	"repositories[].limit_upload":                           {number(between(0, MaxRateKiB))},
	"repositories[].limit_download":                         {number(between(0, MaxRateKiB))},
	"repositories[].nfs":                                    nil,
	"repositories[].nfs.nas":                                {text(name(NameNAS))},
	"repositories[].nfs.server":                             {text(checkAddressToken)},
	"repositories[].nfs.dataset":                            {text(CheckDatasetName)},
	"repositories[].nfs.export":                             {text(CheckAbsPath)},
	"repositories[].nfs.mountpoint":                         {text(CheckNFSMountpoint)},
	"repositories[].nfs.options":                            {list(checkMountOptions)},
	"repositories[].nfs.options[]":                          {text(checkMountOption)},
	"repositories[].nfs.quota":                              {number(nonNegative)},
	"repositories[].mountpoint":                             {optional(CheckAbsPath)},
	"repositories[].ssh":                                    nil, // sftp only: checkRepositories
	"repositories[].ssh.user":                               {optional(checkWord)},
	"repositories[].ssh.host":                               {text(checkAddressToken)},
	"repositories[].ssh.port":                               {optional(checkPort)},
	"repositories[].ssh.identity_file":                      {text(checkSecretFile)},
	"repositories[].ssh.known_hosts_file":                   {text(CheckAbsPath)},
	"repositories[].ssh.known_hosts":                        nil,
	"repositories[].ssh.known_hosts[]":                      {text(checkLine)},
	"repositories[].init":                                   nil,
	"repositories[].default":                                nil, // any bool
	"repositories[].retention":                              nil, // keeps something: checkRepositories
	"repositories[].retention.last":                         {number(between(0, 1000000))},
	"repositories[].retention.hourly":                       {number(between(0, 1000000))},
	"repositories[].retention.daily":                        {number(between(0, 1000000))},
	"repositories[].retention.weekly":                       {number(between(0, 1000000))},
	"repositories[].retention.monthly":                      {number(between(0, 1000000))},
	"repositories[].retention.yearly":                       {number(between(0, 1000000))},
	"repositories[].retention.within":                       {optional(CheckResticDuration)},
	"repositories[].prune":                                  nil,
	"repositories[].prune.schedule":                         nil,
	"repositories[].prune.schedule.calendar":                {text(checkCalendar)},
	"repositories[].prune.schedule.randomized_delay":        {optional(checkTimespan)},
	"repositories[].verify":                                 nil,
	"repositories[].verify.schedule":                        nil,
	"repositories[].verify.schedule.calendar":               {text(checkCalendar)},
	"repositories[].verify.schedule.randomized_delay":       {optional(checkTimespan)},
	"repositories[].verify.read_data_subset":                {optional(checkWord)},
	"repositories[].restore_test":                           nil,
	"repositories[].restore_test.schedule":                  nil,
	"repositories[].restore_test.schedule.calendar":         {text(checkCalendar)},
	"repositories[].restore_test.schedule.randomized_delay": {optional(checkTimespan)},
	"repositories[].restore_test.files":                     {number(between(1, 100000))},

	"jobs":                                 nil,
	"jobs[]":                               nil,
	"jobs[].name":                          {text(name(NameJob))},
	"jobs[].description":                   {optional(checkLine)},
	"jobs[].disabled":                      nil, // any bool
	"jobs[].paths":                         nil, // or dumps: checkJobs
	"jobs[].paths[]":                       {text(CheckAbsPath)},
	"jobs[].exclude":                       nil,
	"jobs[].exclude[]":                     {required, text(checkExclude)},
	"jobs[].exclude_caches":                nil, // any bool
	"jobs[].one_file_system":               nil, // any bool; with zfs: checkJobs
	"jobs[].exclude_larger_than":           {optional(CheckResticSize)},
	"jobs[].read_concurrency":              {number(between(0, MaxReadConcurrency))},
	"jobs[].repositories":                  {required},
	"jobs[].repositories[]":                {text(name(NameRepository))},
	"jobs[].schedule":                      nil,
	"jobs[].schedule.calendar":             {text(checkCalendar)},
	"jobs[].schedule.randomized_delay":     {optional(checkTimespan)},
	"jobs[].retention":                     nil,
	"jobs[].retention.last":                {number(between(0, 1000000))},
	"jobs[].retention.hourly":              {number(between(0, 1000000))},
	"jobs[].retention.daily":               {number(between(0, 1000000))},
	"jobs[].retention.weekly":              {number(between(0, 1000000))},
	"jobs[].retention.monthly":             {number(between(0, 1000000))},
	"jobs[].retention.yearly":              {number(between(0, 1000000))},
	"jobs[].retention.within":              {optional(CheckResticDuration)},
	"jobs[].tags":                          {required},
	"jobs[].tags[]":                        {text(CheckTag)},
	"jobs[].job_tag":                       nil, // must be JobTag(name): planRules
	"jobs[].snapshot":                      {text(oneOf(SnapshotModes))},
	"jobs[].datasets":                      nil,
	"jobs[].datasets[]":                    nil,
	"jobs[].datasets[].mountpoint":         {text(CheckAbsPath)},
	"jobs[].datasets[].name":               {text(CheckDatasetName)},
	"jobs[].hooks":                         nil,
	"jobs[].hooks.pre_backup":              {optional(checkCommand)},
	"jobs[].hooks.post_backup":             {optional(checkCommand)},
	"jobs[].hooks.on_failure":              {optional(checkCommand)},
	"jobs[].hooks.needs":                   nil, // keys: checkSteps
	"jobs[].hooks.needs{}":                 nil,
	"jobs[].hooks.needs{}.user":            {optional(CheckUserName)},
	"jobs[].hooks.needs{}.packages":        nil,
	"jobs[].hooks.needs{}.packages[]":      {text(CheckPackage)},
	"jobs[].hooks.needs{}.path":            nil,
	"jobs[].hooks.needs{}.path[]":          {text(CheckAbsPath)},
	"jobs[].hooks.needs{}.writes":          nil,
	"jobs[].hooks.needs{}.writes[]":        {text(CheckAbsPath)},
	"jobs[].dumps":                         nil,
	"jobs[].dumps[]":                       nil,
	"jobs[].dumps[].name":                  {text(name(NameJob))},
	"jobs[].dumps[].command":               {required},
	"jobs[].dumps[].command[]":             {text(checkCommand)},
	"jobs[].dumps[].filename":              {text(CheckDumpFilename)},
	"jobs[].dumps[].tag":                   nil, // must be DumpTagPrefix+name: checkSteps
	"jobs[].dumps[].restore_command":       nil,
	"jobs[].dumps[].restore_command[]":     {text(checkCommand)},
	"jobs[].dumps[].user":                  {optional(CheckUserName)},
	"jobs[].dumps[].packages":              nil,
	"jobs[].dumps[].packages[]":            {text(CheckPackage)},
	"jobs[].dumps[].path":                  nil,
	"jobs[].dumps[].path[]":                {text(CheckAbsPath)},
	"jobs[].dumps[].writes":                nil,
	"jobs[].dumps[].writes[]":              {text(CheckAbsPath)},
	"jobs[].resources":                     nil,
	"jobs[].resources.nice":                {number(between(-20, 19))},
	"jobs[].resources.io_scheduling_class": {text(oneOf(IOSchedulingClasses))},
	"jobs[].resources.cpu_quota":           {optional(checkWord)},
	"jobs[].resources.memory_max":          {optional(checkWord)},
	"jobs[].resources.timeout_start":       {optional(checkTimespan)},
	"jobs[].on_failure_unit":               {optional(checkUnitName)},
	"jobs[].notify":                        nil,
	"jobs[].notify.ping_url":               {optional(CheckNotifyURL)},
	"jobs[].notify.failure_url":            {optional(CheckNotifyURL)},
	"jobs[].notify.failure_command":        nil,
	"jobs[].notify.failure_command[]":      {text(checkCommand)},
	"jobs[].notify.timeout":                {text(CheckNotifyTimeout)},

	"secrets":               nil,
	"secrets[]":             nil,
	"secrets[].name":        {text(checkSecretName)},
	"secrets[].path":        {text(checkSecretFile)}, // SecretPath(name): checkSecrets
	"secrets[].sops":        nil,                     // required: checkSecrets
	"secrets[].sops.file":   {text(CheckSopsFile)},
	"secrets[].sops.key":    {optional(CheckSopsKey)}, // by format: checkSecrets
	"secrets[].sops.format": {text(oneOf(SopsFormats))},

	// Repository roles and retention per repository (issue 9).
	"jobs[].default_repositories":           nil, // any bool
	"jobs[].repository_retention":           nil, // keys: checkJobs
	"jobs[].repository_retention{}":         nil, // keeps something: checkJobs
	"jobs[].repository_retention{}.last":    {number(between(0, 1000000))},
	"jobs[].repository_retention{}.hourly":  {number(between(0, 1000000))},
	"jobs[].repository_retention{}.daily":   {number(between(0, 1000000))},
	"jobs[].repository_retention{}.weekly":  {number(between(0, 1000000))},
	"jobs[].repository_retention{}.monthly": {number(between(0, 1000000))},
	"jobs[].repository_retention{}.yearly":  {number(between(0, 1000000))},
	"jobs[].repository_retention{}.within":  {optional(CheckResticDuration)},

	"replication":                           nil,
	"replication.datasets":                  {required},
	"replication.datasets[]":                {text(CheckDatasetName)},
	"replication.snapshots":                 nil, // something taken: checkReplication
	"replication.snapshots.frequently":      {number(between(0, 100000))},
	"replication.snapshots.hourly":          {number(between(0, 100000))},
	"replication.snapshots.daily":           {number(between(0, 100000))},
	"replication.snapshots.weekly":          {number(between(0, 100000))},
	"replication.snapshots.monthly":         {number(between(0, 100000))},
	"replication.snapshots.yearly":          {number(between(0, 100000))},
	"replication.user":                      {text(CheckUserName)},
	"replication.nas":                       {text(name(NameNAS))},
	"replication.public_key":                {text(CheckPublicKeyLine)},
	"replication.from":                      {required},
	"replication.from[]":                    {text(CheckFromAddress)},
	"replication.copies":                    nil,
	"replication.copies[]":                  nil, // one per dataset: checkReplication
	"replication.copies[].source":           {text(CheckDatasetName)},
	"replication.copies[].target":           {text(CheckDatasetName)},
	"replication.schedule":                  nil,
	"replication.schedule.calendar":         {text(checkCalendar)},
	"replication.schedule.randomized_delay": {optional(checkTimespan)},
}

// planRules relate fields to each other.
var planRules = []func(v *validator, p *Plan){
	checkNodeDatasets,
	checkRepositories,
	checkJobs,
	checkSteps,
	checkMonitoring,
	checkSecrets,
	checkReplication,
}

// validator walks a plan and collects every problem, so that one run
// reports them all.
type validator struct {
	plan     *Plan
	problems []error
	// failed are the fields with a problem: a relation that involves
	// one would only repeat it.
	failed map[string]bool
}

// FieldError is one problem of a plan: the field, as a path such as
// jobs[2].paths[0], and what is wrong with its value.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func (v *validator) fail(field string, err error) {
	if v.failed[field] {
		return
	}
	if v.failed == nil {
		v.failed = map[string]bool{}
	}
	v.failed[field] = true
	v.problems = append(v.problems, &FieldError{Field: field, Err: err})
}

// err is every problem, one a line: those of single fields in the order
// of the plan, then those between fields.
func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &InvalidError{Problems: v.problems}
}

// InvalidError is a plan that Validate refused.
type InvalidError struct {
	// Problems are *FieldError values: those of single fields in the
	// order of the plan, then those between fields.
	Problems []error
}

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	if len(msgs) == 1 {
		return "invalid plan: " + msgs[0]
	}
	return "invalid plan:\n  " + strings.Join(msgs, "\n  ")
}

func (e *InvalidError) Unwrap() []error { return e.Problems }

// walk applies fieldRules to v, whose path is field (jobs[2].paths) and
// whose row in fieldRules is pattern (jobs[].paths), and to everything
// inside it. A nil pointer is an absent optional block: nothing inside
// it is checked.
func (v *validator) walk(val reflect.Value, field, pattern string) {
	if val.Kind() == reflect.Pointer {
		if val.IsNil() {
			return
		}
		val = val.Elem()
	}
	if pattern != "" {
		for _, r := range fieldRules[pattern] {
			if err := r(val); err != nil {
				v.fail(field, err)
				return // the next rule of the field would only repeat it
			}
		}
	}
	switch val.Kind() {
	case reflect.Struct:
		t := val.Type()
		for i := range t.NumField() {
			if inlined(t.Field(i)) {
				// An embedded struct's fields are the outer object's
				// own in JSON, and so in the table.
				v.walkFields(val.Field(i), field, pattern)
				continue
			}
			name := jsonName(t.Field(i))
			if name == "" {
				continue
			}
			v.walk(val.Field(i), join(field, name), join(pattern, name))
		}
	case reflect.Slice:
		for i := range val.Len() {
			v.walk(val.Index(i), fmt.Sprintf("%s[%d]", field, i), pattern+"[]")
		}
	case reflect.Map:
		// Maps are keyed by strings in the plan; their values share the
		// row pattern{}. Keys are checked by planRules, which know what
		// each map is keyed by.
		keys := val.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			v.walk(val.MapIndex(k), fmt.Sprintf("%s[%q]", field, k.String()), pattern+"{}")
		}
	}
}

// walkFields walks the fields of a struct without applying a row to the
// struct itself: the fields of an embedded struct.
func (v *validator) walkFields(val reflect.Value, field, pattern string) {
	t := val.Type()
	for i := range t.NumField() {
		if inlined(t.Field(i)) {
			v.walkFields(val.Field(i), field, pattern)
			continue
		}
		if name := jsonName(t.Field(i)); name != "" {
			v.walk(val.Field(i), join(field, name), join(pattern, name))
		}
	}
}

// inlined reports an embedded struct without a JSON name of its own,
// whose fields JSON puts in the outer object.
func inlined(f reflect.StructField) bool {
	return f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == ""
}

// jsonName is a struct field's name in the plan's JSON, "" for a field
// that is not in it.
func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		return f.Name
	}
	return name
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Rules of one value.

// required refuses an empty string or list, and 0.
func required(v reflect.Value) error {
	if v.IsZero() || v.Kind() == reflect.Slice && v.Len() == 0 {
		return errors.New("is required and missing or empty")
	}
	return nil
}

// text applies check to a string field.
func text(check func(string) error) rule {
	return func(v reflect.Value) error { return check(v.String()) }
}

// optional applies check to a string field that is set.
func optional(check func(string) error) rule {
	return func(v reflect.Value) error {
		if v.String() == "" {
			return nil
		}
		return check(v.String())
	}
}

// list applies check to a list of strings.
func list(check func([]string) error) rule {
	return func(v reflect.Value) error {
		ss := make([]string, v.Len())
		for i := range ss {
			ss[i] = v.Index(i).String()
		}
		return check(ss)
	}
}

// number applies check to an int field.
func number(check func(int) error) rule {
	return func(v reflect.Value) error { return check(int(v.Int())) }
}

func nonNegative(n int) error {
	if n < 0 {
		return fmt.Errorf("%d is negative", n)
	}
	return nil
}

func between(lo, hi int) func(int) error {
	return func(n int) error {
		if n < lo || n > hi {
			return fmt.Errorf("%d is not from %d to %d", n, lo, hi)
		}
		return nil
	}
}

func name(kind NameKind) func(string) error {
	return func(s string) error {
		if err := CheckName(kind, s); err != nil {
			return fmt.Errorf("%q is not a %s name: %w", s, kind, err)
		}
		return nil
	}
}

func oneOf(list []string) func(string) error {
	return func(s string) error { return checkOneOf(s, list) }
}

// CheckSource accepts what the compiler writes: the host file relative
// to the fleet root, slash-separated, on one line (it is carried in the
// plan's JSON, which has no form for bytes that are not UTF-8, and named
// in every output's header). The compiler refuses a host file whose name
// it does not accept.
func CheckSource(s string) error {
	if strings.HasPrefix(s, "/") || s != path.Clean(s) || s == ".." || strings.HasPrefix(s, "../") {
		return fmt.Errorf("%q is not a file name relative to the fleet's root", s)
	}
	return checkLine(s)
}

// checkRuntimePath accepts a folder or file the runtime writes: absolute,
// clean, not in the read-only Nix store.
func checkRuntimePath(s string) error {
	if err := CheckAbsPath(s); err != nil {
		return err
	}
	if IsUnder(s, NixStore) {
		return fmt.Errorf("%q is in the Nix store, which is read-only", s)
	}
	return nil
}

// checkSecretFile accepts a secret file: absolute, clean, outside the Nix
// store that every user can read.
func checkSecretFile(s string) error {
	if err := CheckAbsPath(s); err != nil {
		return err
	}
	if IsUnder(s, NixStore) {
		return fmt.Errorf("%q is in the Nix store, which every user of the machine can read", s)
	}
	return nil
}

func notRoot(s string) error {
	if s == "/" {
		return errors.New(`"/" is not a file`)
	}
	return nil
}

// checkLine accepts text that fits on one line of a unit file.
func checkLine(s string) error {
	if err := escape.CheckSystemdLine(s); err != nil {
		return fmt.Errorf("%q %w", s, err)
	}
	return nil
}

// checkWord accepts one word: a value the units write verbatim and the
// runtime gives restic as one argument, such as "5%" or "2G".
func checkWord(s string) error {
	if err := checkLine(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, " \t") || strings.HasPrefix(s, "-") {
		return fmt.Errorf("%q is not one word", s)
	}
	return nil
}

// checkAddressToken accepts a host name or address as the plan carries it
// (the compiler checks its syntax): one word that no program reads as an
// option. At run time only the NFS mount check compares it.
func checkAddressToken(s string) error {
	if err := checkWord(s); err != nil {
		return fmt.Errorf("%q is not a host name or address", s)
	}
	return nil
}

// checkMountOption accepts one mount option: commas separate options.
func checkMountOption(s string) error {
	if err := checkWord(s); err != nil || s == "" || strings.Contains(s, ",") {
		return fmt.Errorf("%q is not one mount option", s)
	}
	return nil
}

// checkExclude accepts an exclude pattern that the runtime can write as
// one line of restic's exclude file (escape.ResticExcludeLine): no line
// break, a valid restic pattern, not too long.
func checkExclude(s string) error {
	if err := escape.CheckResticExcludeLine(s); err != nil {
		return fmt.Errorf("%.80q %w", s, err)
	}
	return nil
}

// checkCommand accepts a hook: shell text, which a process argument
// cannot carry with a NUL byte in it.
func checkCommand(s string) error {
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("%q holds a NUL byte", s)
	}
	return nil
}

func checkUnitName(s string) error {
	if err := escape.CheckSystemdUnitName(s); err != nil {
		return fmt.Errorf("%q %w", s, err)
	}
	return nil
}

func checkCalendar(s string) error {
	if _, err := calendar.Normalize(s); err != nil {
		return fmt.Errorf("%q is not a systemd calendar expression: %w", s, err)
	}
	return nil
}

func checkTimespan(s string) error {
	if _, err := calendar.ParseTimespan(s); err != nil {
		return fmt.Errorf("%q is not a systemd time span: %w", s, err)
	}
	return nil
}

// Rules that relate fields.

// checkNodeDatasets: the node's datasets are sorted by mountpoint, each
// mountpoint and dataset once.
func checkNodeDatasets(v *validator, p *Plan) {
	checkDatasetList(v, "node.datasets", p.Node.Datasets)
	names := map[string]bool{}
	for i, d := range p.Node.Datasets {
		if names[d.Name] {
			v.fail(fmt.Sprintf("node.datasets[%d].name", i), fmt.Errorf("%q is listed twice", d.Name))
		}
		names[d.Name] = true
	}
}

// checkDatasetList: sorted by mountpoint, so that a parent comes before
// its children (the runtime mounts snapshot views in this order).
func checkDatasetList(v *validator, field string, ds []Dataset) {
	for i := 1; i < len(ds); i++ {
		if ds[i].Mountpoint <= ds[i-1].Mountpoint {
			v.fail(fmt.Sprintf("%s[%d].mountpoint", field, i), fmt.Errorf("%q comes after %q: datasets are sorted by mountpoint, each once", ds[i].Mountpoint, ds[i-1].Mountpoint))
		}
	}
}

// checkRepositories: names sorted and unique; a kind's location and its
// NFS mount agree.
func checkRepositories(v *validator, p *Plan) {
	for i := range p.Repositories {
		r := &p.Repositories[i]
		field := fmt.Sprintf("repositories[%d]", i)
		if i > 0 && r.Name <= p.Repositories[i-1].Name {
			v.fail(field+".name", fmt.Errorf("%q comes after %q: repositories are sorted by name, each once", r.Name, p.Repositories[i-1].Name))
		}
		switch r.Kind {
		case KindNFS:
			if r.NFS == nil {
				v.fail(field+".nfs", errors.New("is required for an nfs repository"))
			} else if r.URL != r.NFS.Mountpoint {
				v.fail(field+".url", fmt.Errorf("%q is not the NFS mountpoint %q", r.URL, r.NFS.Mountpoint))
			} else if err := r.NFS.CheckFstab(); err != nil && !v.failed[field+".nfs.mountpoint"] {
				v.fail(field+".nfs", err)
			}
		case KindLocal:
			if err := CheckAbsPath(r.URL); err != nil {
				v.fail(field+".url", err)
			}
		default:
			if !strings.HasPrefix(r.URL, r.Kind+":") {
				v.fail(field+".url", fmt.Errorf("%q is not a restic URL of kind %q (%s:…)", r.URL, r.Kind, r.Kind))
			}
		}
		if r.Kind != KindNFS && r.NFS != nil {
			v.fail(field+".nfs", fmt.Errorf("is given, but the repository's kind is %q", r.Kind))
		}
		if mp := r.Mountpoint; mp != "" {
			switch {
			case r.Kind != KindLocal:
				v.fail(field+".mountpoint", fmt.Errorf("is given, but the repository's kind is %q (only a local repository names its disk)", r.Kind))
			case mp != "/" && r.URL != mp && !strings.HasPrefix(r.URL, mp+"/"):
				v.fail(field+".mountpoint", fmt.Errorf("%q is neither the repository's folder %q nor a folder above it", mp, r.URL))
			}
		}
		if r.Retention != nil && !r.Retention.Keeps() {
			v.fail(field+".retention", errors.New("keeps nothing: every number is 0 and within is not set"))
		}
		switch {
		case r.Kind == KindSFTP && r.SSH == nil:
			v.fail(field+".ssh", errors.New("is required for an sftp repository: restic's ssh has no key and no host keys without it"))
		case r.Kind != KindSFTP && r.SSH != nil:
			v.fail(field+".ssh", fmt.Errorf("is given, but the repository's kind is %q", r.Kind))
		case r.SSH != nil && len(r.SSH.KnownHosts) > 0 && r.SSH.KnownHostsFile != p.Paths.KnownHosts:
			v.fail(field+".ssh.known_hosts_file", fmt.Errorf("%q is not paths.known_hosts %q, where the inline host keys are installed", r.SSH.KnownHostsFile, p.Paths.KnownHosts))
		}
	}
}

// checkJobs: names sorted and unique; paths sorted, none inside another;
// every repository named exists; the job tag names the job and is among
// its tags; a ZFS snapshot job lists the node's datasets it snapshots,
// each of its paths on one of them, and another job none; the retention
// keeps something.
func checkJobs(v *validator, p *Plan) {
	for i := range p.Jobs {
		j := &p.Jobs[i]
		field := fmt.Sprintf("jobs[%d]", i)
		if i > 0 && j.Name <= p.Jobs[i-1].Name {
			v.fail(field+".name", fmt.Errorf("%q comes after %q: jobs are sorted by name, each once", j.Name, p.Jobs[i-1].Name))
		}
		for k := 1; k < len(j.Paths); k++ {
			if prev := j.Paths[k-1]; j.Paths[k] <= prev || IsUnder(j.Paths[k], prev) {
				v.fail(fmt.Sprintf("%s.paths[%d]", field, k), fmt.Errorf("%q comes after %q: paths are sorted, each once, none inside another", j.Paths[k], prev))
			}
		}
		for k, name := range j.Repositories {
			if _, ok := p.Repository(name); !ok {
				v.fail(fmt.Sprintf("%s.repositories[%d]", field, k), fmt.Errorf("%q is not a repository of the plan", name))
			}
			if k > 0 && name <= j.Repositories[k-1] {
				v.fail(fmt.Sprintf("%s.repositories[%d]", field, k), fmt.Errorf("%q comes after %q: sorted, each once", name, j.Repositories[k-1]))
			}
		}
		if j.JobTag != JobTag(j.Name) && !v.failed[field+".name"] {
			v.fail(field+".job_tag", fmt.Errorf("%q is not %q, the tag that names the job", j.JobTag, JobTag(j.Name)))
		} else if !slices.Contains(j.Tags, j.JobTag) {
			v.fail(field+".tags", fmt.Errorf("do not hold the job's tag %q, which forget is scoped by", j.JobTag))
		}
		for k := 1; k < len(j.Tags); k++ {
			if j.Tags[k] <= j.Tags[k-1] {
				v.fail(fmt.Sprintf("%s.tags[%d]", field, k), fmt.Errorf("%q comes after %q: sorted, each once", j.Tags[k], j.Tags[k-1]))
			}
		}
		switch {
		case v.failed[field+".snapshot"]:
		case j.Snapshot == SnapshotZFS && len(j.Datasets) == 0:
			v.fail(field+".datasets", errors.New("are required for a ZFS snapshot job: without them it would read the live files"))
		case j.Snapshot != SnapshotZFS && len(j.Datasets) > 0:
			v.fail(field+".datasets", fmt.Errorf("are given, but the job's snapshot is %q", j.Snapshot))
		}
		checkDatasetList(v, field+".datasets", j.Datasets)
		if j.Snapshot == SnapshotZFS && len(j.Datasets) > 0 {
			for k, path := range j.Paths {
				if !slices.ContainsFunc(j.Datasets, func(d Dataset) bool { return IsUnder(path, d.Mountpoint) }) {
					v.fail(fmt.Sprintf("%s.paths[%d]", field, k), fmt.Errorf("%q is on none of the job's datasets, so it would be read live, not from the snapshot", path))
				}
			}
		}
		if d, ok := j.OneFileSystemLeavesOut(); ok {
			v.fail(field+".one_file_system", fmt.Errorf("leaves out the dataset %s mounted at %q below a path of the ZFS job", d.Name, d.Mountpoint))
		}
		for k, d := range j.Datasets {
			if !slices.Contains(p.Node.Datasets, d) {
				v.fail(fmt.Sprintf("%s.datasets[%d]", field, k), fmt.Errorf("%s at %q is not one of node.datasets", d.Name, d.Mountpoint))
			}
		}
		if !j.Retention.Keeps() {
			v.fail(field+".retention", errors.New("keeps nothing: every number is 0 and within is not set"))
		}
		checkRepositoryRetention(v, p, j, field)
	}
	for i := range p.Jobs {
		// Tags each go to restic as one --tag.
		for k, t := range p.Jobs[i].Tags {
			if strings.HasPrefix(t, JobTagPrefix) && t != p.Jobs[i].JobTag {
				v.fail(fmt.Sprintf("jobs[%d].tags[%d]", i, k), fmt.Errorf("%q starts with %q, which only the job's own tag may", t, JobTagPrefix))
			}
		}
	}
}

// checkRepositoryRetention: a job's policy per repository names one of
// the job's repositories, keeps something, and is that repository's
// own retention, which replaces the job's there (the compiler's rule;
// the runtime only reads Job.RetentionIn). A job with default
// repositories writes to none with default = false.
func checkRepositoryRetention(v *validator, p *Plan, j *Job, field string) {
	for _, name := range sortedMapKeys(j.RepositoryRetention) {
		f := fmt.Sprintf("%s.repository_retention[%q]", field, name)
		rt := j.RepositoryRetention[name]
		repo, ok := p.Repository(name)
		switch {
		case !slices.Contains(j.Repositories, name):
			v.fail(f, fmt.Errorf("%q is not a repository of the job", name))
		case !rt.Keeps():
			v.fail(f, errors.New("keeps nothing: every number is 0 and within is not set"))
		case ok && (repo.Retention == nil || *repo.Retention != rt):
			v.fail(f, fmt.Errorf("is not the retention of repository %q, which is the one that applies there", name))
		}
	}
	for k, name := range j.Repositories {
		repo, ok := p.Repository(name)
		if !ok {
			continue
		}
		if repo.Retention != nil {
			if _, has := j.RepositoryRetention[name]; !has {
				v.fail(field+".repository_retention", fmt.Errorf("has no entry for repository %q, whose own retention applies there", name))
			}
		}
		if j.DefaultRepositories && !repo.JobDefault() {
			v.fail(fmt.Sprintf("%s.repositories[%d]", field, k), fmt.Errorf("%q has default = false, but the job lists no repositories of its own", name))
		}
	}
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkMonitoring: the error log is a file, not one of the runtime's
// folders.
func checkMonitoring(v *validator, p *Plan) {
	for _, dir := range []string{p.Paths.State, p.Paths.Cache, p.Paths.Log, p.Monitoring.TextfileDir} {
		if p.Monitoring.ErrorLog == dir {
			v.fail("monitoring.error_log", fmt.Errorf("%q is a folder of the runtime, not a file", dir))
			return
		}
	}
}

// checkPort accepts a TCP port number, as written in a URL.
func checkPort(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != s {
		return fmt.Errorf("%q is not a port number", s)
	}
	return nil
}

// Package emitfuzz fuzzes every emitter from a decoded configuration
// (issue 9, item 5: no input may crash bakc). It has only tests: a fleet
// is written with hclwrite from strings in every string field of the
// language (so that any string is representable, quotes, "${", newlines
// and all), compiled, and on success every output is rendered: backup.nix,
// the unit files, the NAS script and its Nix form, the runbook and the
// plan's JSON. A panic anywhere fails; so does an emitter that refuses
// what the compiler accepted; and each output must pass a cheap check of
// its consumer in the fuzz body (go-systemd's unit parser, a POSIX shell
// parser, plan.Decode). TestCorpusRealConsumers runs the slow real
// consumers (nix-instantiate, systemd-analyze verify, sh -n) on the
// committed corpus (testdata/fuzz).
//
//	go test ./emit/emitfuzz -run '^$' -fuzz FuzzUnits -fuzztime 10m
package emitfuzz

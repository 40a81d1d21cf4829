package main

import (
	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
)

// loadNodePlan loads a host file with the nearest bakc.hcl above it,
// checks its node and returns the node's plan. Diagnostics (warnings
// too) are printed; with errors it returns silentExit(exitConfig).
func loadNodePlan(e *env, file string, asJSON bool) (*plan.Plan, *compiler.Fleet, error) {
	f, diags := compiler.LoadNodeFile(file)
	if diags.HasErrors() {
		printDiagnostics(e, f, diags, asJSON)
		return nil, f, silentExit(exitConfig)
	}
	// LoadNodeFile refuses a host file without a node or with several.
	nodes := f.NodeNames()
	p, d := f.Plan(nodes[0])
	diags = append(diags, d...)
	printDiagnostics(e, f, diags, asJSON)
	if diags.HasErrors() {
		return nil, f, silentExit(exitConfig)
	}
	return p, f, nil
}

// loadFleet loads the fleet dir belongs to (the nearest bakc.hcl at or
// above it, and every host file below that). It prints the diagnostics
// of loading and returns silentExit(exitConfig) when there are errors;
// the caller then runs the checks it needs (Validate, NASPlan) and
// prints theirs with printDiagnostics.
func loadFleet(e *env, dir string, asJSON bool) (*compiler.Fleet, error) {
	f, diags := compiler.LoadFleet(dir)
	printDiagnostics(e, f, diags, asJSON)
	if diags.HasErrors() {
		return f, silentExit(exitConfig)
	}
	return f, nil
}

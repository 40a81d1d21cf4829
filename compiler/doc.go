// Package compiler turns a fleet's HCL files into checked plans: it
// loads the files (package schema decodes them), checks every rule of the
// language, and lowers each node to a plan.Plan and each NAS to a
// plan.NASPlan, which the emitters and the runtime read.
//
// The checks are the product. Each one is a diagnostic with a Subject
// range (file, line, column), a short Summary and a Detail in whole
// sentences that end in what to do, as Terraform's are. The phases:
//
//	load      find bakc.hcl, parse and decode every file (LoadFleet, LoadNodeFile)
//	resolve   defaults, NAS declarations, node identities (cached per Fleet)
//	validate  names, references, paths, schedules, sizes, secrets, fleet rules
//	lower     the plan types, every list sorted (Plan, NASPlan)
//
// Validate and lower run together: each lowering step checks what it
// reads, so no check can be skipped by a plan that is still produced.
package compiler

// Package schema decodes bakc's HCL files into plain Go structs that
// remember where every value was written.
//
// It is the first phase of the compiler: parse (native HCL or HCL's JSON
// syntax), evaluate expressions (with the cty standard functions and the
// node.name / node.address variables), convert to the expected types and
// record each value's source range. It knows the shape of the language
// (which blocks and attributes exist, and their types) but not its
// rules: names, paths, sizes, schedules and references are checked by
// package compiler, which points back at the ranges kept here.
//
// The one rule enforced here is about text itself: every string value
// passes through decodeText, which rejects NUL and control characters
// (newlines included; hook commands may hold newlines and tabs), so that
// no later phase can forget to.
package schema

package nixos

import (
	"strings"

	"github.com/holthome/bakc/escape"
)

// The module is built as a small tree of Nix values and printed the way
// nixfmt (RFC 166 style) prints it: two-space indentation, a non-empty
// attribute set one binding per line, a list of more than one element
// one element per line, `[ x ]` and `{ }` inline. Every string goes
// through package escape; the printer never quotes anything itself.

// expr is a Nix expression that can print itself at an indentation.
type expr interface {
	print(b *strings.Builder, indent string)
	// inline reports whether the expression prints on one line.
	inline() bool
}

// raw is Nix code written as it is: a number, a boolean, an identifier
// or a small expression built from escaped parts.
type raw string

func (r raw) print(b *strings.Builder, _ string) { b.WriteString(string(r)) }
func (r raw) inline() bool                       { return !strings.Contains(string(r), "\n") }

// str is a Nix string with the value s.
func str(s string) raw { return raw(escape.NixString(s)) }

// text is a multi-line string, printed as an indented string
// when it can be, else as a "…" string.
type text string

func (t text) print(b *strings.Builder, indent string) {
	if escape.CheckNixIndentedString(string(t)) != nil {
		b.WriteString(escape.NixString(string(t)))
		return
	}
	b.WriteString(escape.NixIndentedString(string(t), indent+"  ", indent))
}
func (t text) inline() bool { return false }

// call is a function application, `f a b`, printed as nixfmt prints
// one whose arguments but the last fit on the line: the last argument
// (an indented string) opens on the same line.
type call struct {
	fn   raw
	args []expr
}

func (c call) print(b *strings.Builder, indent string) {
	c.fn.print(b, indent)
	for _, a := range c.args {
		b.WriteByte(' ')
		a.print(b, indent)
	}
}
func (c call) inline() bool {
	for _, a := range c.args {
		if !a.inline() {
			return false
		}
	}
	return true
}

// list is a Nix list.
type list []expr

func (l list) print(b *strings.Builder, indent string) {
	if len(l) == 0 {
		b.WriteString("[ ]")
		return
	}
	if l.inline() {
		b.WriteString("[ ")
		l[0].print(b, indent)
		b.WriteString(" ]")
		return
	}
	b.WriteString("[\n")
	for _, e := range l {
		b.WriteString(indent + "  ")
		e.print(b, indent+"  ")
		b.WriteString("\n")
	}
	b.WriteString(indent + "]")
}
func (l list) inline() bool { return len(l) == 0 || len(l) == 1 && l[0].inline() }

// strs is a list of strings.
func strs(ss []string) list {
	l := make(list, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return l
}

// attrs is an attribute set whose bindings keep their order.
type attrs struct {
	bindings []binding
	// spaced puts an empty line between bindings (the module's top).
	spaced bool
}

// binding is `a.b."c d" = value;`; path holds the attribute names
// unescaped.
type binding struct {
	path  []string
	value expr
}

func (a *attrs) set(value expr, path ...string) *attrs {
	a.bindings = append(a.bindings, binding{path: path, value: value})
	return a
}

func (a *attrs) print(b *strings.Builder, indent string) {
	if len(a.bindings) == 0 {
		b.WriteString("{ }")
		return
	}
	b.WriteString("{\n")
	for i, bd := range a.bindings {
		if a.spaced && i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(indent + "  ")
		for j, name := range bd.path {
			if j > 0 {
				b.WriteByte('.')
			}
			b.WriteString(escape.NixAttrName(name))
		}
		b.WriteString(" = ")
		bd.value.print(b, indent+"  ")
		b.WriteString(";\n")
	}
	b.WriteString(indent + "}")
}
func (a *attrs) inline() bool { return len(a.bindings) == 0 }

package schema

import (
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Text is an evaluated string attribute and the range of the expression
// that produced it, so that a later check can point at the value.
type Text struct {
	Value string
	Range hcl.Range
}

// Number is an evaluated number attribute. It is kept exact (a cty
// number is arbitrary precision) so that the compiler can tell 1.5 and
// 1e30 from a whole number in range and say so in its own words.
type Number struct {
	Value *big.Float
	Range hcl.Range
}

// Bool is an evaluated bool attribute.
type Bool struct {
	Value bool
	Range hcl.Range
}

// TextList is an evaluated list of strings. For a list written out
// literally each item has its own range; for a list computed by a
// function every item has the range of the whole expression.
type TextList struct {
	Items []Text
	Range hcl.Range
}

// Values returns the items' values.
func (l *TextList) Values() []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l.Items))
	for i, it := range l.Items {
		out[i] = it.Value
	}
	return out
}

// TextEntry is one key and value of a TextMap.
type TextEntry struct {
	Key   Text
	Value Text
}

// TextMap is an evaluated map of strings, in source order for a map
// written out literally (so that duplicate keys can still be reported)
// and sorted by key for a computed one.
type TextMap struct {
	Entries []TextEntry
	Range   hcl.Range
}

// textMode says which characters a string may hold.
type textMode int

const (
	// singleLine is every string but hooks: no control characters at
	// all, since the value may reach a unit file, a Nix string, an
	// exports line or a shell script.
	singleLine textMode = iota
	// multiLine is a hook command, run with `sh -c` from the plan only:
	// newlines and tabs are fine there, other control characters are not.
	multiLine
)

// checkText is the gate every decoded string passes: valid UTF-8 and no
// control characters (C0, DEL, C1), except newline and tab in multi-line
// text. NUL can never be carried in an argv, an environment or a Nix
// string; the rest would break out of a line of a unit file, an exports
// file or a shell script.
//
// subject names the value for the message: "the value of \"paths\"",
// "an item of \"paths\"".
func checkText(s string, rng hcl.Range, mode textMode, subject string) hcl.Diagnostics {
	what := strings.ToUpper(subject[:1]) + subject[1:]
	if !utf8.ValidString(s) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid character",
			Detail:   fmt.Sprintf("%s is not valid UTF-8 text. Write it as UTF-8.", what),
			Subject:  rng.Ptr(),
		}}
	}
	for _, r := range s {
		if mode == multiLine && (r == '\n' || r == '\t') {
			continue
		}
		if r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid character",
				Detail: fmt.Sprintf("%s contains %s, a line separator or text direction control: it would end a line in some readers or show the text in a different order than it is read, hiding what it says. Remove it.",
					what, fmt.Sprintf("U+%04X", r)),
				Subject: rng.Ptr(),
			}}
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			allowed := "It is carried into unit files, Nix or shell scripts, where a control character would end a line or be cut off."
			if mode == multiLine {
				allowed = "A hook command may hold newlines and tabs, but no other control character."
			}
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid character",
				Detail:   fmt.Sprintf("%s contains the control character %s. %s Remove it.", what, runeName(r), allowed),
				Subject:  rng.Ptr(),
			}}
		}
	}
	if mode == singleLine && strings.TrimSpace(s) != s {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Surrounding whitespace",
			Detail:   fmt.Sprintf("%s starts or ends with whitespace. systemd strips it from unit files and it is easy to miss in paths and names, so bakc refuses it: remove it.", what),
			Subject:  rng.Ptr(),
		}}
	}
	return checkNoSecret(s, rng, what)
}

// runeName names a control character the way a user can search for it.
func runeName(r rune) string {
	switch r {
	case 0:
		return "U+0000 (NUL)"
	case '\n':
		return "U+000A (newline)"
	case '\r':
		return "U+000D (carriage return)"
	case '\t':
		return "U+0009 (tab)"
	case 0x1b:
		return "U+001B (escape)"
	}
	return fmt.Sprintf("U+%04X", r)
}

// evalAttr evaluates an attribute's expression; a null value counts as
// not set, as in Terraform.
func evalAttr(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, _ = v.Unmark()
	return v, diags
}

// convertValue converts v to ty with a diagnostic that names the
// attribute.
func convertValue(v cty.Value, ty cty.Type, rng hcl.Range, what string) (cty.Value, hcl.Diagnostics) {
	out, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for %s: %s. Write %s.", what, err, typeWords(ty)),
			Subject:  rng.Ptr(),
		}}
	}
	if !out.IsWhollyKnown() {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown value",
			Detail:   fmt.Sprintf("The value of %s cannot be known when the configuration is compiled. Use only values written in the configuration.", what),
			Subject:  rng.Ptr(),
		}}
	}
	return out, nil
}

// typeWords says in words what a value of ty looks like.
func typeWords(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return `a string, such as "daily"`
	case ty == cty.Number:
		return "a number, such as 7"
	case ty == cty.Bool:
		return "true or false"
	case ty.IsListType():
		return `a list of strings, such as ["a", "b"]`
	case ty.IsMapType():
		return `a map of strings, such as { "/home" = "rpool/home" }`
	}
	return ty.FriendlyName()
}

// attrWhat names an attribute for a diagnostic ("attribute \"paths\"").
func attrWhat(attr *hcl.Attribute) string { return fmt.Sprintf("%q", attr.Name) }

// line is a single-line string attribute of a block and the field it
// decodes into, for decodeLines.
type line struct {
	name string
	dst  **Text
}

// decodeLines decodes single-line string attributes into their fields,
// in the order given (so that diagnostics come in that order).
func decodeLines(a hcl.Attributes, ctx *hcl.EvalContext, fields ...line) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range fields {
		v, d := decodeText(a[f.name], ctx, singleLine)
		diags = append(diags, d...)
		*f.dst = v
	}
	return diags
}

// decodeText evaluates a string attribute. A nil attribute, or a null
// value, gives nil.
func decodeText(attr *hcl.Attribute, ctx *hcl.EvalContext, mode textMode) (*Text, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil
	}
	v, diags := evalAttr(attr.Expr, ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	v, d := convertValue(v, cty.String, attr.Expr.Range(), attrWhat(attr))
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	t := &Text{Value: v.AsString(), Range: attr.Expr.Range()}
	if d := checkText(t.Value, t.Range, mode, "the value of "+attrWhat(attr)); d.HasErrors() {
		return nil, append(diags, d...)
	}
	return t, diags
}

// decodeNumber evaluates a number attribute.
func decodeNumber(attr *hcl.Attribute, ctx *hcl.EvalContext) (*Number, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil
	}
	v, diags := evalAttr(attr.Expr, ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	v, d := convertValue(v, cty.Number, attr.Expr.Range(), attrWhat(attr))
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	return &Number{Value: v.AsBigFloat(), Range: attr.Expr.Range()}, diags
}

// decodeBool evaluates a bool attribute.
func decodeBool(attr *hcl.Attribute, ctx *hcl.EvalContext) (*Bool, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil
	}
	v, diags := evalAttr(attr.Expr, ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	v, d := convertValue(v, cty.Bool, attr.Expr.Range(), attrWhat(attr))
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	return &Bool{Value: v.True(), Range: attr.Expr.Range()}, diags
}

// decodeTextList evaluates a list of strings. A list written out
// literally is evaluated item by item, so that each item keeps its own
// range; anything else (a function call, a reference) as a whole.
func decodeTextList(attr *hcl.Attribute, ctx *hcl.EvalContext) (*TextList, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil
	}
	what := attrWhat(attr)
	list := &TextList{Range: attr.Expr.Range()}
	if exprs, d := hcl.ExprList(attr.Expr); !d.HasErrors() {
		var diags hcl.Diagnostics
		for _, ex := range exprs {
			v, d := evalAttr(ex, ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			if v.IsNull() {
				diags = append(diags, nullItem(ex.Range(), what))
				continue
			}
			v, d = convertValue(v, cty.String, ex.Range(), "an item of "+what)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			t := Text{Value: v.AsString(), Range: ex.Range()}
			if d := checkText(t.Value, t.Range, singleLine, "an item of "+what); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			list.Items = append(list.Items, t)
		}
		if diags.HasErrors() {
			return nil, diags
		}
		return list, diags
	}
	v, diags := evalAttr(attr.Expr, ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	if v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType() {
		for it := v.ElementIterator(); it.Next(); {
			if _, ev := it.Element(); ev.IsNull() {
				return nil, append(diags, nullItem(attr.Expr.Range(), what))
			}
		}
	}
	v, d := convertValue(v, cty.List(cty.String), attr.Expr.Range(), what)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		t := Text{Value: ev.AsString(), Range: attr.Expr.Range()}
		if d := checkText(t.Value, t.Range, singleLine, "an item of "+what); d.HasErrors() {
			return nil, append(diags, d...)
		}
		list.Items = append(list.Items, t)
	}
	return list, diags
}

func nullItem(rng hcl.Range, what string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Null list item",
		Detail:   fmt.Sprintf("An item of %s is null. Remove it, or give it a value.", what),
		Subject:  rng.Ptr(),
	}
}

// decodeTextMap evaluates a map of strings, entry by entry when it is
// written out literally.
func decodeTextMap(attr *hcl.Attribute, ctx *hcl.EvalContext) (*TextMap, hcl.Diagnostics) {
	if attr == nil {
		return nil, nil
	}
	what := attrWhat(attr)
	m := &TextMap{Range: attr.Expr.Range()}
	if pairs, d := hcl.ExprMap(attr.Expr); !d.HasErrors() {
		var diags hcl.Diagnostics
		for _, p := range pairs {
			kv, d := evalAttr(p.Key, ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			vv, d := evalAttr(p.Value, ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			if kv.IsNull() || vv.IsNull() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Null map entry",
					Detail:   fmt.Sprintf("A key or value of %s is null. Remove the entry, or give it a value.", what),
					Subject:  hcl.RangeBetween(p.Key.Range(), p.Value.Range()).Ptr(),
				})
				continue
			}
			kv, d = convertValue(kv, cty.String, p.Key.Range(), "a key of "+what)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			vv, d = convertValue(vv, cty.String, p.Value.Range(), "a value of "+what)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			e := TextEntry{
				Key:   Text{Value: kv.AsString(), Range: p.Key.Range()},
				Value: Text{Value: vv.AsString(), Range: p.Value.Range()},
			}
			d = append(checkText(e.Key.Value, e.Key.Range, singleLine, "a key of "+what),
				checkText(e.Value.Value, e.Value.Range, singleLine, "a value of "+what)...)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			m.Entries = append(m.Entries, e)
		}
		if diags.HasErrors() {
			return nil, diags
		}
		return m, diags
	}
	v, diags := evalAttr(attr.Expr, ctx)
	if diags.HasErrors() || v.IsNull() {
		return nil, diags
	}
	v, d := convertValue(v, cty.Map(cty.String), attr.Expr.Range(), what)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	// ElementIterator walks a map in key order.
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		if ev.IsNull() {
			return nil, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Null map entry",
				Detail:   fmt.Sprintf("The value of key %q of %s is null. Remove the entry, or give it a value.", k.AsString(), what),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		e := TextEntry{
			Key:   Text{Value: k.AsString(), Range: attr.Expr.Range()},
			Value: Text{Value: ev.AsString(), Range: attr.Expr.Range()},
		}
		d = append(checkText(e.Key.Value, e.Key.Range, singleLine, "a key of "+what),
			checkText(e.Value.Value, e.Value.Range, singleLine, "a value of "+what)...)
		if d.HasErrors() {
			return nil, append(diags, d...)
		}
		m.Entries = append(m.Entries, e)
	}
	return m, diags
}

package schema

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions are the functions every expression may call: the cty
// standard library under the names Terraform users know, plus try and
// can. None reads the clock, the environment or files, so the same
// configuration always compiles to the same bytes.
var functions = map[string]function.Function{
	"abs":             stdlib.AbsoluteFunc,
	"can":             tryfunc.CanFunc,
	"ceil":            stdlib.CeilFunc,
	"chomp":           stdlib.ChompFunc,
	"chunklist":       stdlib.ChunklistFunc,
	"coalesce":        stdlib.CoalesceFunc,
	"coalescelist":    stdlib.CoalesceListFunc,
	"compact":         stdlib.CompactFunc,
	"concat":          stdlib.ConcatFunc,
	"contains":        stdlib.ContainsFunc,
	"csvdecode":       stdlib.CSVDecodeFunc,
	"distinct":        stdlib.DistinctFunc,
	"element":         stdlib.ElementFunc,
	"flatten":         stdlib.FlattenFunc,
	"floor":           stdlib.FloorFunc,
	"format":          stdlib.FormatFunc,
	"formatlist":      stdlib.FormatListFunc,
	"indent":          stdlib.IndentFunc,
	"index":           stdlib.IndexFunc,
	"join":            stdlib.JoinFunc,
	"jsondecode":      stdlib.JSONDecodeFunc,
	"jsonencode":      stdlib.JSONEncodeFunc,
	"keys":            stdlib.KeysFunc,
	"length":          stdlib.LengthFunc,
	"log":             stdlib.LogFunc,
	"lookup":          stdlib.LookupFunc,
	"lower":           stdlib.LowerFunc,
	"max":             stdlib.MaxFunc,
	"merge":           stdlib.MergeFunc,
	"min":             stdlib.MinFunc,
	"parseint":        stdlib.ParseIntFunc,
	"pow":             stdlib.PowFunc,
	"range":           stdlib.RangeFunc,
	"regex":           stdlib.RegexFunc,
	"regexall":        stdlib.RegexAllFunc,
	"regex_replace":   stdlib.RegexReplaceFunc,
	"replace":         stdlib.ReplaceFunc,
	"reverse":         stdlib.ReverseListFunc,
	"setintersection": stdlib.SetIntersectionFunc,
	"setproduct":      stdlib.SetProductFunc,
	"setsubtract":     stdlib.SetSubtractFunc,
	"setunion":        stdlib.SetUnionFunc,
	"signum":          stdlib.SignumFunc,
	"slice":           stdlib.SliceFunc,
	"sort":            stdlib.SortFunc,
	"split":           stdlib.SplitFunc,
	"strlen":          stdlib.StrlenFunc,
	"strrev":          stdlib.ReverseFunc,
	"substr":          stdlib.SubstrFunc,
	"title":           stdlib.TitleFunc,
	"tobool":          stdlib.MakeToFunc(cty.Bool),
	"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber":        stdlib.MakeToFunc(cty.Number),
	"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":        stdlib.MakeToFunc(cty.String),
	"trim":            stdlib.TrimFunc,
	"trimprefix":      stdlib.TrimPrefixFunc,
	"trimspace":       stdlib.TrimSpaceFunc,
	"trimsuffix":      stdlib.TrimSuffixFunc,
	"try":             tryfunc.TryFunc,
	"upper":           stdlib.UpperFunc,
	"values":          stdlib.ValuesFunc,
	"zipmap":          stdlib.ZipmapFunc,
}

// FunctionNames lists the functions expressions may call, sorted, for
// the documentation and its test.
func FunctionNames() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RootContext is the evaluation context of bakc.hcl: functions, no
// variables.
func RootContext() *hcl.EvalContext {
	return &hcl.EvalContext{Functions: functions}
}

// HostContext is the evaluation context of host files: the functions
// and `nas`, an object of every NAS declared in bakc.hcl by name, with
// its name, address, parent and mount_root, so that a node can write
// nas["nas-1"].address instead of repeating it.
func HostContext(root *RootFile) *hcl.EvalContext {
	nas := map[string]cty.Value{}
	if root != nil {
		for _, n := range root.NAS {
			if _, dup := nas[n.Name]; dup {
				continue
			}
			nas[n.Name] = cty.ObjectVal(map[string]cty.Value{
				"name":       cty.StringVal(n.Name),
				"address":    textVal(n.Address),
				"parent":     textVal(n.Parent),
				"mount_root": textVal(n.MountRoot),
			})
		}
	}
	return &hcl.EvalContext{
		Functions: functions,
		Variables: map[string]cty.Value{"nas": cty.ObjectVal(nas)},
	}
}

// nodeContext adds `node` (name and, once known, address) to a host
// file's context for the body of one node block.
func nodeContext(parent *hcl.EvalContext, name string, address *Text) *hcl.EvalContext {
	ctx := parent.NewChild()
	attrs := map[string]cty.Value{"name": cty.StringVal(name)}
	if address != nil {
		attrs["address"] = cty.StringVal(address.Value)
	} else {
		attrs["address"] = cty.NullVal(cty.String)
	}
	ctx.Variables = map[string]cty.Value{"node": cty.ObjectVal(attrs)}
	return ctx
}

// nodeNameContext is the context of a node's address attribute: only
// node.name is known there.
func nodeNameContext(parent *hcl.EvalContext, name string) *hcl.EvalContext {
	ctx := parent.NewChild()
	ctx.Variables = map[string]cty.Value{"node": cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(name)})}
	return ctx
}

func textVal(t *Text) cty.Value {
	if t == nil {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(t.Value)
}

package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Marshal encodes a plan as indented JSON with a trailing newline. Field
// order is the struct order and every list is already sorted, so the
// bytes are deterministic.
func Marshal(p *Plan) ([]byte, error) { return marshal(p) }

// MarshalNAS encodes a NAS plan the same way as Marshal.
func MarshalNAS(p *NASPlan) ([]byte, error) { return marshal(p) }

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Paths and hooks may hold <, > and &; keep them readable.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode reads a plan and refuses one of another version or with fields
// this build does not know, since running a plan half-understood could
// back up the wrong thing.
func Decode(r io.Reader) (*Plan, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding plan: %w", err)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("plan version %d, but this bakc reads version %d: recompile the plan with this bakc", p.Version, Version)
	}
	return &p, nil
}

// ReadFile decodes the plan stored in the file at path.
func ReadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Job returns the job with the given name.
func (p *Plan) Job(name string) (*Job, bool) {
	for i := range p.Jobs {
		if p.Jobs[i].Name == name {
			return &p.Jobs[i], true
		}
	}
	return nil, false
}

// Repository returns the repository with the given name.
func (p *Plan) Repository(name string) (*Repository, bool) {
	for i := range p.Repositories {
		if p.Repositories[i].Name == name {
			return &p.Repositories[i], true
		}
	}
	return nil, false
}

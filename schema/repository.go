package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Repository is a restic repository of a node. Exactly one of NFS, Path
// and URL says where it is (the compiler checks that).
type Repository struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range
	NFS       *NFS
	Path      *Text
	URL       *Text
	// Mountpoint is where the disk of a path repository is mounted.
	Mountpoint *Text
	// PasswordFile and EnvironmentFile are paths to secrets on the node.
	PasswordFile    *Text
	EnvironmentFile *Text
	// PasswordSops and EnvironmentSops are the same secrets written as
	// sops-nix secrets ({ sops = …, key = … }); for each, at most one of
	// the path and the sops secret is set.
	PasswordSops    *Sops
	EnvironmentSops *Sops
	// InlineSecret is the range of a `password` or `environment`
	// attribute: secrets written into the configuration would end up in
	// the Nix store, so the compiler reports them.
	InlineSecret *hcl.Attribute
	Init         *Bool
	// SSH is how restic's ssh reaches an sftp repository.
	SSH         *SSH
	Verify      *Verify
	RestoreTest *RestoreTest
	Prune       *Prune
}

// NFS is a repository on an exported dataset of the node's NAS.
type NFS struct {
	DeclRange  hcl.Range
	Dataset    *Text
	Mountpoint *Text
	// Options replace the default mount options.
	Options *TextList
}

// SSH is the ssh block of an sftp repository: the key the backup user's
// ssh logs in with and the server's host keys, as lines or a file.
type SSH struct {
	DeclRange    hcl.Range
	IdentityFile *Text
	// IdentitySops is the identity file written as a sops-nix secret.
	IdentitySops   *Sops
	KnownHosts     *TextList
	KnownHostsFile *Text
}

var repositorySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"},
		{Name: "mountpoint"},
		{Name: "url"},
		{Name: "password_file"},
		{Name: "environment_file"},
		{Name: "init"},
		// Accepted only to be reported.
		{Name: "password"},
		{Name: "environment"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "nfs"}, {Type: "ssh"},
		{Type: "verify"}, {Type: "restore_test"}, {Type: "prune"},
	},
}

var nfsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "dataset", Required: true},
		{Name: "mountpoint", Required: true},
		{Name: "options"},
	},
}

func decodeRepositoryBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Repository, hcl.Diagnostics) {
	r := &Repository{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b)}
	content, diags := bodyContent(b.Body, repositorySchema, "repository")
	a := content.Attributes
	for _, t := range []struct {
		dst  **Text
		name string
	}{{&r.Path, "path"}, {&r.Mountpoint, "mountpoint"}, {&r.URL, "url"}} {
		v, d := decodeText(a[t.name], ctx, singleLine)
		diags = append(diags, d...)
		*t.dst = v
	}
	var d hcl.Diagnostics
	r.PasswordFile, r.PasswordSops, d = decodeSecret(a["password_file"], ctx)
	diags = append(diags, d...)
	r.EnvironmentFile, r.EnvironmentSops, d = decodeSecret(a["environment_file"], ctx)
	diags = append(diags, d...)
	// The value of an inline secret is never evaluated: it must not
	// reach any output, not even a diagnostic.
	if at := a["password"]; at != nil {
		r.InlineSecret = at
	} else if at := a["environment"]; at != nil {
		r.InlineSecret = at
	}
	r.Init, d = decodeBool(a["init"], ctx)
	diags = append(diags, d...)
	where := "A repository"
	blk, d := singleBlock(content.Blocks, "nfs", where)
	diags = append(diags, d...)
	if blk != nil {
		r.NFS, d = decodeNFSBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "ssh", where)
	diags = append(diags, d...)
	if blk != nil {
		r.SSH, d = decodeSSHBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "verify", where)
	diags = append(diags, d...)
	if blk != nil {
		r.Verify, d = decodeVerifyBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "restore_test", where)
	diags = append(diags, d...)
	if blk != nil {
		r.RestoreTest, d = decodeRestoreTestBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "prune", where)
	diags = append(diags, d...)
	if blk != nil {
		r.Prune, d = decodePruneBlock(blk, ctx)
		diags = append(diags, d...)
	}
	return r, diags
}

func decodeNFSBlock(b *hcl.Block, ctx *hcl.EvalContext) (*NFS, hcl.Diagnostics) {
	n := &NFS{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(nfsSchema)
	var d hcl.Diagnostics
	n.Dataset, d = decodeText(content.Attributes["dataset"], ctx, singleLine)
	diags = append(diags, d...)
	n.Mountpoint, d = decodeText(content.Attributes["mountpoint"], ctx, singleLine)
	diags = append(diags, d...)
	n.Options, d = decodeTextList(content.Attributes["options"], ctx)
	return n, append(diags, d...)
}

var sshSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "identity_file"},
		{Name: "known_hosts"},
		{Name: "known_hosts_file"},
	},
}

func decodeSSHBlock(b *hcl.Block, ctx *hcl.EvalContext) (*SSH, hcl.Diagnostics) {
	s := &SSH{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(sshSchema)
	var d hcl.Diagnostics
	s.IdentityFile, s.IdentitySops, d = decodeSecret(content.Attributes["identity_file"], ctx)
	diags = append(diags, d...)
	s.KnownHostsFile, d = decodeText(content.Attributes["known_hosts_file"], ctx, singleLine)
	diags = append(diags, d...)
	s.KnownHosts, d = decodeTextList(content.Attributes["known_hosts"], ctx)
	return s, append(diags, d...)
}

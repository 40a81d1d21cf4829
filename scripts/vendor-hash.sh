#!/bin/sh
# Recomputes the vendorHash of nix/package.nix (buildGoModule's hash of
# `go mod vendor`) from go.mod and go.sum, and fails when it differs from
# the one written there: a dependency changed without the Nix package.
#
#   scripts/vendor-hash.sh           check (CI runs it through go test ./nix)
#   scripts/vendor-hash.sh --update  write the new hash into nix/package.nix
#
# Needs go (and the module cache or the Go proxy) and nix's hashing:
# `nix hash path` where the nix command is available, else nix-hash.
set -eu

cd "$(dirname "$0")/.."
pkg=nix/package.nix

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# buildGoModule runs exactly `go mod vendor` in its fixed-output
# derivation and hashes the folder (NAR serialisation, sha256).
go mod vendor -o "$tmp/vendor"

if hash=$(nix --extra-experimental-features nix-command hash path --type sha256 --sri "$tmp/vendor" 2>/dev/null); then
	:
else
	hex=$(nix-hash --type sha256 "$tmp/vendor")
	hash="sha256-$(printf '%s' "$hex" | xxd -r -p | base64)"
fi

current=$(sed -n 's/^ *vendorHash = "\(sha256-[A-Za-z0-9+/=]*\)";.*/\1/p' "$pkg")
if [ -z "$current" ]; then
	echo "vendor-hash: no vendorHash = \"sha256-…\"; line in $pkg" >&2
	exit 1
fi

if [ "$current" = "$hash" ]; then
	echo "vendor-hash: $pkg is current ($hash)"
	exit 0
fi

if [ "${1:-}" = "--update" ]; then
	sed -i "s|vendorHash = \"$current\";|vendorHash = \"$hash\";|" "$pkg"
	echo "vendor-hash: $pkg updated: $current -> $hash"
	exit 0
fi

echo "vendor-hash: $pkg has vendorHash $current, but go.mod and go.sum give $hash." >&2
echo "vendor-hash: run scripts/vendor-hash.sh --update and commit $pkg with go.mod and go.sum." >&2
exit 1

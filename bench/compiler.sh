#!/bin/sh
# Whole-process speed and peak memory of bakc's compiler:
#   bakc plan / compile of examples/homelab/hosts/forge.hcl, and
#   bakc validate of generated fleets of 100, 1,000 and 5,000 nodes × 10 jobs.
# Needs hyperfine (installed by scripts/test-setup.sh) and GNU time
# (/usr/bin/time, Debian package "time"). Figures go to stdout as Markdown; see
# docs/performance-compiler.md.
#
#   sh bench/compiler.sh            # all sizes
#   SIZES="100 1000" sh bench/compiler.sh
set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100 1000 5000"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/bakc" ./cmd/bakc
bakc="$work/bakc"
forge=examples/homelab/hosts/forge.hcl

for n in $SIZES; do
	go run ./bench/genfleet -nodes "$n" -jobs 10 -out "$work/fleet-$n"
	"$bakc" validate "$work/fleet-$n" >/dev/null # must be valid
done

# "peak RSS (MB) | CPU time (s, user + system)" of one run of a command
peak() {
	/usr/bin/time -f '%M %U %S' "$@" 2>&1 >/dev/null | tail -n 1 |
		awk '{ printf "%.1f | %.2f", $1 / 1024, $2 + $3 }'
}

echo "## Wall time (hyperfine, mean ± σ)"
echo
set -- "$bakc plan $forge" "$bakc version"
if "$bakc" compile --help >/dev/null 2>&1; then
	set -- "$@" "$bakc compile $forge"
fi
for n in $SIZES; do
	set -- "$@" "$bakc validate $work/fleet-$n"
done
hyperfine --shell=none --warmup 3 --min-runs 10 --style basic \
	--export-markdown "$work/times.md" "$@" >/dev/null
sed "s|$work/||g" "$work/times.md"

echo
echo "## Peak resident memory and CPU time (GNU time, one run)"
echo
echo "| command | peak RSS (MB) | CPU (s) |"
echo "| --- | --- | --- |"
echo "| bakc plan forge.hcl | $(peak "$bakc" plan $forge) |"
if "$bakc" compile --help >/dev/null 2>&1; then
	echo "| bakc compile forge.hcl | $(peak "$bakc" compile $forge) |"
fi
for n in $SIZES; do
	echo "| bakc validate fleet-$n | $(peak "$bakc" validate "$work/fleet-$n") |"
done
echo
echo "Fleet sizes:"
for n in $SIZES; do
	echo "- fleet-$n: $(du -sh "$work/fleet-$n" | cut -f1), $(cat "$work/fleet-$n"/hosts/*.hcl | wc -l) lines of host files"
done

#!/usr/bin/env bash
# Benchmark of `bakc run backup` against the same restic commands run by
# hand (the ones `bakc run backup --dry-run` prints: same flags, no ZFS
# snapshot), on a generated tree of about 1 GiB in 50,000 files: the ratio
# of wall times for a first run (empty repository) and for an unchanged
# second run, and the peak memory of bakc itself (without restic). Not a
# test: it takes minutes. Figures and how to read them: docs/performance-runtime.md.
#
#   bench/runtime.sh [WORKDIR]     (root not needed; ~2.5 GiB free in WORKDIR)
#
# Environment: RESTIC (default: restic 0.18.1 from test-setup.sh, else
# restic), RUNS (runs per side and case, default 5), FILES (50000),
# FILE_SIZE (20972 bytes: 50,000 files make 1.0 GiB).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/bakc-bench-runtime.XXXXXX)}
restic=${RESTIC:-$HOME/.cache/bakc/restic-0.18.1/restic}
[ -x "$restic" ] || restic=$(command -v restic)
runs=${RUNS:-5}
files=${FILES:-50000}
size=${FILE_SIZE:-20972}
command -v bc >/dev/null || { echo "bench: bc is needed" >&2; exit 1; }

mkdir -p "$work"
cd "$work"
echo "bench: work folder $work, $("$restic" version)"

# 1. The tree: 100 folders of $files/100 random (incompressible) files.
if [ ! -e tree.done ]; then
	rm -rf tree && mkdir tree
	per=$((files / 100))
	for d in $(seq -w 0 99); do
		mkdir "tree/d$d"
		head -c $((per * size)) /dev/urandom | (cd "tree/d$d" && split -a 3 -b "$size" - f)
	done
	touch tree.done
fi
echo "bench: tree of $(find tree -type f | wc -l) files, $(du -s --apparent-size --block-size=1M tree | cut -f1) MiB"

# 2. bakc, and a plan with one job (no snapshot) into a local repository.
(cd "$here" && go build -o "$work/bakc" ./cmd/bakc)
echo "bench-password" > password
chmod 600 password
uid=$(id -u)
gid=$(id -g)
cat > plan.json <<JSON
{
  "version": 1,
  "source": "bench",
  "node": {"name": "bench"},
  "user": {"name": "bench", "group": "bench", "uid": $uid, "gid": $gid},
  "paths": {"plan": "$work/plan.json", "state": "$work/state", "cache": "$work/cache", "log": "$work/log"},
  "monitoring": {"textfile_dir": "$work/textfile", "error_log": "$work/log/errors.jsonl"},
  "repositories": [{"name": "local", "kind": "local", "url": "$work/repo", "password_file": "$work/password",
    "prune": {"schedule": {"calendar": "weekly"}}}],
  "jobs": [{"name": "tree", "paths": ["$work/tree"], "repositories": ["local"],
    "schedule": {"calendar": "daily"}, "retention": {"daily": 7},
    "tags": ["job:tree"], "job_tag": "job:tree", "snapshot": "none", "hooks": {},
    "resources": {"nice": 0, "io_scheduling_class": "best-effort"}}]
}
JSON

# 3. The commands by hand: exactly the restic lines of the dry run, with
# the progress rate bakc sets (RESTIC_PROGRESS_FPS=2); their stdout (the
# JSON lines, which bakc reads and parses) goes to /dev/null.
./bakc run backup tree --plan plan.json --restic "$restic" --dry-run | grep "^$restic " > by-hand.sh
sed -i 's/$/ >\/dev\/null/' by-hand.sh
echo "bench: by hand:"; sed 's/^/  /' by-hand.sh

# 4. An empty repository and one holding a first snapshot, to start each
# measured run from.
rm -rf repo.empty repo.one cache.one repo cache state textfile log
"$restic" --repo repo.empty --password-file password --no-cache init >/dev/null
cp -a repo.empty repo
"$restic" --repo repo --password-file password --cache-dir cache backup -q tree >/dev/null
mv repo repo.one
mv cache cache.one

export RESTIC_PROGRESS_FPS=2

# 5. Interleaved runs, each from the same starting repository, the order
# of the two sides swapped every round (bakc, by hand; by hand, bakc; …),
# so that neither a change in the machine's load nor what the previous run
# left in the page cache favours one side.
wall() { # command… → seconds of wall time
	local t0 t1
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
run_bakc() { ./bakc run backup tree --plan plan.json --restic "$restic" 2>>bakc.log >/dev/null; }
run_hand() { bash by-hand.sh; }
measure() { # name reset-folder
	local name=$1 from=$2 i
	: >"$name.bakc"
	: >"$name.hand"
	for i in $(seq "$runs"); do
		order="bakc hand"
		[ $((i % 2)) -eq 0 ] && order="hand bakc"
		for side in $order; do
			rm -rf repo cache state
			cp -a "$from" repo
			[ "$from" = repo.one ] && cp -a cache.one cache
			sync
			wall "run_$side" >>"$name.$side"
		done
	done
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { sort -n "$1" | head -1; }

: >bakc.log
measure first repo.empty
measure second repo.one

# 6. Peak memory of bakc itself: its own getrusage (RUSAGE_SELF), logged
# at the end of every run; restic, its child, is not counted.
peak=$(grep -o 'peak_rss_kib=[0-9]*' bakc.log | cut -d= -f2 | sort -n | tail -1)
if grep -q 'exit_code=[1-9]' bakc.log; then
	echo "bench: a bakc run failed; see $work/bakc.log" >&2
	exit 1
fi

report() { # label name
	local bm hm bn hn
	bm=$(median "$2.bakc"); hm=$(median "$2.hand")
	bn=$(minimum "$2.bakc"); hn=$(minimum "$2.hand")
	printf '  %-30s bakc %6.2fs  by hand %6.2fs  ratio %.3f   (fastest: %.2fs / %.2fs = %.3f)\n' \
		"$1" "$bm" "$hm" "$(echo "$bm / $hm" | bc -l)" "$bn" "$hn" "$(echo "$bn / $hn" | bc -l)"
}
echo
echo "bench: $runs runs per side, interleaved; median wall time"
report "first run (empty repository)" first
report "second run (unchanged tree)" second
echo "  peak RSS of bakc itself:       $((peak / 1024)) MiB ($peak KiB), largest of $((2 * runs)) runs"

# 7. bakc's own time: each run's seconds minus the seconds of the restic
# processes it started (both from its log). It does not depend on how
# busy the machine is with other work, which the wall times above do.
awk '
	/msg="restic end"/ { match($0, /seconds=[0-9.]+/); r += substr($0, RSTART + 8, RLENGTH - 8) }
	/msg="backup run ends"/ { match($0, /seconds=[0-9.]+/); print substr($0, RSTART + 8, RLENGTH - 8) - r; r = 0 }
' bakc.log | sort -n >overhead
echo "  bakc's own time per run (run minus its restic processes): median $(median overhead)s, max $(tail -1 overhead)s"

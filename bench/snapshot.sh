#!/usr/bin/env bash
# Benchmark of a ZFS snapshot job on an unchanged tree: `bakc run backup`
# (snapshot, view at the original path, restic, forget, release) against
# the same restic commands run by hand on the live dataset (the ones
# `bakc run backup --dry-run` prints: same flags), on a zfs-fuse dataset
# of about 1 GiB in 50,000 files. Cold (page cache dropped, the pool
# exported and imported so that zfs-fuse's own cache forgets it) and warm
# rounds, interleaved, the order swapped every round. Checks from restic's
# JSON summary that every run found every file unmodified, and times the
# phases of each bakc run from its log. Not a test: it takes minutes.
# Figures and how to read them: docs/performance-runtime.md.
#
#   sudo bench/snapshot.sh [WORKDIR]   (root; ~1.5 GiB free in WORKDIR;
#                                       the zfs-fuse daemon must run)
#
# Environment: RESTIC (default: restic 0.18.1 from test-setup.sh, else
# restic), RUNS (rounds per case, default 5), FILES (50000), FILE_SIZE
# (20972 bytes: 50,000 files make 1.0 GiB), CASES ("cold warm"),
# SNAPSHOTS (other snapshots of the dataset, as sanoid keeps them: 0),
# BAKC (a bakc binary to measure instead of building this tree's).
#
# The pool (a file in WORKDIR, named bakcbench<hash of WORKDIR>) is kept
# between invocations, exported at the end; only this pool is ever
# exported or imported: the daemon is shared.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/bakc-bench-snapshot}
restic=${RESTIC:-$HOME/.cache/bakc/restic-0.18.1/restic}
[ -x "$restic" ] || restic=$(command -v restic)
runs=${RUNS:-5}
files=${FILES:-50000}
size=${FILE_SIZE:-20972}
cases=${CASES:-cold warm}
others=${SNAPSHOTS:-0}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (zfs, mounts)" >&2; exit 1; }
command -v bc >/dev/null || { echo "bench: bc is needed" >&2; exit 1; }
zpool list >/dev/null 2>&1 || { echo "bench: the zfs-fuse daemon does not answer (zpool list)" >&2; exit 1; }

mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$work"
pool=bakcbench$(echo "$work" | md5sum | cut -c1-6)
echo "bench: work folder $work, pool $pool, $("$restic" version)"

export_pool() { # zfs-fuse answers "busy" after a mount went away, for up to a minute on a loaded machine
	local i
	for i in $(seq 300); do
		zpool export "$pool" 2>/dev/null && return 0
		sleep 0.2
	done
	zpool export "$pool"
}

# 1. The pool and the dataset, kept between invocations.
if ! zpool list -H -o name "$pool" >/dev/null 2>&1; then
	if [ -e pool.img ]; then
		zpool import -d "$work" "$pool"
	else
		truncate -s 4G pool.img
		zpool create -m "$work/poolroot" "$pool" "$work/pool.img"
		zfs create -o mountpoint="$work/data" -o atime=off "$pool/data"
	fi
fi
trap 'cd /; export_pool || true' EXIT
[ "$(zfs get -H -o value mounted "$pool/data" 2>/dev/null)" = yes ] || zfs mount "$pool/data"

# 2. The tree: 100 folders of $files/100 random files, written once.
if [ ! -e tree.done ]; then
	rm -rf data/d*
	per=$((files / 100))
	for d in $(seq -w 0 99); do
		mkdir "data/d$d"
		head -c $((per * size)) /dev/urandom | (cd "data/d$d" && split -a 3 -b "$size" - f)
	done
	touch tree.done
fi
n=$(find data -type f | wc -l)
echo "bench: tree of $n files, $(du -s --apparent-size --block-size=1M data | cut -f1) MiB"
[ "$n" -ge "$files" ] || { echo "bench: the tree is not all there; remove $work/tree.done to write it again" >&2; exit 1; }

# Other snapshots of the dataset (bench-1 … bench-N), as a node running
# sanoid has: exactly $others of them.
have=$(zfs list -H -o name -t snapshot -r "$pool/data" | grep -c '@bench-' || true)
for i in $(seq $((have + 1)) "$others"); do zfs snapshot "$pool/data@bench-$i"; done
for i in $(seq $((others + 1)) "$have"); do zfs destroy "$pool/data@bench-$i"; done
echo "bench: $(zfs list -H -o name -t snapshot -r "$pool" | wc -l) other snapshots in the pool"

# 3. bakc, and a plan with one ZFS snapshot job into a local repository
# (on the work folder's file system, not the pool). The plan's user is
# the backup user (BACKUP_USER, default bakc, as test-setup.sh makes it):
# bakc, run as root, starts restic as that user with the ambient
# capability CAP_DAC_READ_SEARCH, and the commands by hand are run the
# same way (setpriv).
if [ -n "${BAKC:-}" ]; then
	cp "$BAKC" "$work/bakc" # another build, such as main's, to compare with
else
	(cd "$here" && go build -o "$work/bakc" ./cmd/bakc)
fi
echo "bench-password" >password
chmod 600 password
v=$("$restic" version | awk '{print $2}')
user=${BACKUP_USER:-bakc}
uid=$(id -u "$user")
gid=$(id -g "$user")
# restic where the backup user can reach it: execve looks the binary up
# with the user's own rights, before the capability applies (restic
# 0.18.1 from test-setup.sh is under /root).
cp "$restic" "$work/restic-$v"
restic=$work/restic-$v
plan() { # name → plan file for a repository and cache of that name
	cat >"plan-$1.json" <<JSON
{
  "version": 1,
  "source": "bench",
  "node": {"name": "bench", "datasets": [{"mountpoint": "$work/data", "name": "$pool/data"}]},
  "user": {"name": "$user", "group": "$(id -gn "$user")", "uid": $uid, "gid": $gid},
  "paths": {"plan": "$work/plan-$1.json", "state": "$work/state-$1", "cache": "$work/cache-$1", "log": "$work/log-$1"},
  "monitoring": {"textfile_dir": "$work/textfile-$1", "error_log": "$work/log-$1/errors.jsonl"},
  "repositories": [{"name": "local", "kind": "local", "url": "$work/repo-$1", "password_file": "$work/password",
    "prune": {"schedule": {"calendar": "weekly"}}}],
  "jobs": [{"name": "tree", "paths": ["$work/data"], "repositories": ["local"],
    "schedule": {"calendar": "daily"}, "retention": {"daily": 7},
    "tags": ["job:tree"], "job_tag": "job:tree", "snapshot": "zfs",
    "datasets": [{"mountpoint": "$work/data", "name": "$pool/data"}], "hooks": {},
    "resources": {"nice": 0, "io_scheduling_class": "best-effort"}}]
}
JSON
}
plan "bakc-$v"
plan "hand-$v"

# 4. The commands by hand: the restic lines of the dry run of the same
# plan (its own repository and cache), run on the live dataset, with the
# progress rate bakc sets; the summary line is kept to be checked.
./bakc run backup tree --plan "plan-hand-$v.json" --restic "$restic" --dry-run | grep "^$restic " >by-hand.sh
as_user="setpriv --reuid=$uid --regid=$gid --clear-groups --inh-caps=+dac_read_search --ambient-caps=+dac_read_search"
sed -i -e "s|^|$as_user |" -e '/ backup /s/$/ | grep summary >>hand.summary/' -e '/ forget /s/$/ >\/dev\/null/' by-hand.sh
echo "bench: by hand:"
sed 's/^/  /' by-hand.sh

# 5. Each side's repository with a first backup of the tree (untimed), so
# that every measured run is an unchanged second run with a parent.
for side in bakc hand; do
	if [ ! -e "repo-$side-$v/config" ]; then
		rm -rf "repo-$side-$v" "cache-$side-$v"
		"$restic" --repo "repo-$side-$v" --password-file password --no-cache init >/dev/null
	fi
	mkdir -p "cache-$side-$v"
	chown -R "$uid:$gid" "repo-$side-$v" "cache-$side-$v"
done
chown "$uid:$gid" password
export RESTIC_PROGRESS_FPS=2
: >bakc.log
: >hand.summary
./bakc run backup tree --plan "plan-bakc-$v.json" --restic "$restic" -v 2>>bakc.log >/dev/null ||
	echo "bench: the first bakc run failed (see bakc.log); the next cleans up after it" >&2
bash by-hand.sh

wall() { # command… → seconds of wall time, or nothing when it fails
	local t0 t1
	t0=$(date +%s.%N)
	"$@" || return 1
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
cold() { # forget what the kernel and zfs-fuse hold of the tree
	sync
	export_pool
	echo 3 >/proc/sys/vm/drop_caches
	zpool import -d "$work" "$pool"
}
run_bakc() {
	./bakc run backup tree --plan "plan-bakc-$v.json" --restic "$restic" -v 2>>bakc.log >/dev/null || return 1
	# restic's summary, as the metrics report it
	grep -E '^bakc_backup_(files_(new|changed|unmodified)|added_bytes)\{' "textfile-bakc-$v/bakc-backup-tree.prom" |
		sed -E 's/^bakc_backup_(files_)?([a-z_]+)\{[^}]*\} /\2=/' | tr '\n' ' ' >>bakc.summary
	echo >>bakc.summary
}
run_hand() { bash by-hand.sh; }
measure() { # case
	local name=$1 i side
	: >"$name.bakc"
	: >"$name.hand"
	for i in $(seq "$runs"); do
		order="bakc hand"
		[ $((i % 2)) -eq 0 ] && order="hand bakc"
		for side in $order; do
			[ "$name" = cold ] && cold
			echo "== $name round $i $side" >>bakc.log
			# A failed run (zfs-fuse can stay "busy" for longer than
			# bakc waits, on a loaded machine) is reported, not timed.
			wall "run_$side" >>"$name.$side" || echo "bench: $name round $i: the $side run failed; not counted (see bakc.log)" >&2
		done
	done
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >bakc.summary
: >hand.summary
for c in $cases; do measure "$c"; done

if grep -q 'exit_code=[1-9]' bakc.log; then
	echo "bench: $(grep -c 'exit_code=[1-9]' bakc.log) bakc run(s) failed and are not counted; see $work/bakc.log" >&2
fi

# 6. Every run unchanged: restic found every file unmodified.
field() { # name json-line → the number restic's summary gives it
	echo "$2" | grep -o "\"$1\":[0-9]*" | cut -d: -f2 | tr -d '\n'
}
total=$(find data -type f | wc -l)
bad=0
while read -r line; do
	ok=1
	case " $line " in *" new=0 "*) ;; *) ok=0 ;; esac
	case " $line " in *" changed=0 "*) ;; *) ok=0 ;; esac
	case " $line " in *" unmodified=$total "*) ;; *) ok=0 ;; esac
	[ $ok = 1 ] || { echo "bench: bakc run: $line (want new=0 changed=0 unmodified=$total)" >&2; bad=1; }
done <bakc.summary
while read -r line; do
	s="$(field files_new "$line") $(field files_changed "$line") $(field files_unmodified "$line")"
	[ "$s" = "0 0 $total" ] || { echo "bench: by hand: new changed unmodified = $s (want 0 0 $total)" >&2; bad=1; }
done <hand.summary
[ $bad = 0 ] && echo "bench: every run found all $total files unmodified (files_new = files_changed = 0), both sides"
echo "bench: data added per bakc run (bytes): $(grep -o 'added_bytes=[0-9e+.]*' bakc.summary | cut -d= -f2 | sort -g | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
echo "bench: data added per run by hand (bytes): $(while read -r l; do field data_added "$l"; echo; done <hand.summary | sort -g | uniq -c | awk '{printf "%s×%s ", $1, $2}')"

echo
echo "bench: $runs rounds per case, interleaved; median wall time"
for c in $cases; do
	bm=$(median "$c.bakc")
	hm=$(median "$c.hand")
	printf '  %-5s unchanged run: bakc %6.2fs  by hand %6.2fs  ratio %.2f\n' "$c" "$bm" "$hm" "$(echo "$bm / $hm" | bc -l)"
done

# 7. Where a bakc run's time goes, from its log (medians over all runs):
# before the snapshot (namespace, lock, leftovers, preflight), snapshot
# and views, restic backup, forget, release, and after.
awk '
	function t(line) { match(line, /time=[^ ]+/); s = substr(line, RSTART + 5, RLENGTH - 5)
		cmd = "date -d " s " +%s.%N"; cmd | getline v; close(cmd); return v }
	/^== / { c = $2; next }
	/msg="backup run starts"/ { start = t($0) }
	/msg="restic start" .*subcommand=backup/ { shown = t($0) }
	/msg="restic end" .*subcommand=backup/ { match($0, /seconds=[0-9.]+/); backup = substr($0, RSTART + 8, RLENGTH - 8) }
	/msg="restic end" .*subcommand=forget/ { match($0, /seconds=[0-9.]+/); forget = substr($0, RSTART + 8, RLENGTH - 8) }
	/msg="snapshot taken"/ { snap = t($0) }
	/msg="releasing|msg="snapshot destroyed"/ { rel = t($0) }
	/msg="backup run ends"/ && !/exit_code=0/ { next }
	/msg="backup run ends"/ { end = t($0); match($0, /seconds=[0-9.]+/); total = substr($0, RSTART + 8, RLENGTH - 8)
		printf "%s %.3f %.3f %.3f %.3f %.3f %.3f\n", c, snap - start, shown - snap, backup, forget, end - shown - backup - forget, total }
' bakc.log | grep -v '^ ' >phases || true
echo
echo "bench: a bakc run, by phase (median seconds): up to the snapshot | snapshot and views | restic backup | forget | release and after | whole run"
for c in $cases; do
	printf '  %-5s' "$c"
	for col in 2 3 4 5 6 7; do
		grep "^$c " phases | awk -v c=$col '{print $c}' >col
		printf ' %7.3f' "$(median col)"
	done
	echo
done
rm -f col

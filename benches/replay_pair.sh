#!/usr/bin/env bash
# Replay speed of two builds on one corpus, paired: the runs alternate (old, new, old, new, …)
# so that load from other work on a shared machine falls on both alike. Prints the median wall
# time and CPU time (user + system) of each, their ratios, and checks that both builds'
# alerts are the same apart from `emitted_at` when they run the same rules.
#
#   benches/replay_pair.sh OLD_BIN NEW_BIN [RUNS]
#
# Environment: CORPUS (a directory with syslog.log and changes.yaml; default: seed 7, 200
# devices, 7 days, 60 noise lines per device-hour, generated once into $TMPDIR), OLD_RULES /
# NEW_RULES (a --rules directory for either build; default: its built-in rules),
# OLD_WRAP / NEW_WRAP (a command put in front of either, e.g. "taskset -c 0" to hold a build
# to one core: `OLD_WRAP="taskset -c 0" replay_pair.sh BIN BIN` shows what the second core
# gives), CALLGRIND=1 to also count each build's instructions once (valgrind; about a minute
# each).
set -euo pipefail

for tool in jq /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "replay_pair.sh needs $tool" >&2; exit 2; }
done
old=${1:?usage: replay_pair.sh OLD_BIN NEW_BIN [RUNS]}
new=${2:?usage: replay_pair.sh OLD_BIN NEW_BIN [RUNS]}
runs=${3:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=${TMPDIR:-/tmp}
corpus=${CORPUS:-$tmp/imagewatch-seed7}
if [[ ! -s $corpus/syslog.log ]]; then
    echo "generating the seed-7 corpus into $corpus" >&2
    python3 "$here/../shared/tools/corpus/gen.py" --out "$corpus" --seed 7 --devices 200 \
        --days 7 --noise-per-device-per-hour 60 >&2
fi
log=$corpus/syslog.log
changes=$corpus/changes.yaml
lines=$(wc -l <"$log")

args() { # build's --rules, if any
    local rules=$1
    [[ -n $rules ]] && printf -- '--rules\n%s\n' "$rules"
    return 0
}
mapfile -t old_args < <(args "${OLD_RULES:-}")
mapfile -t new_args < <(args "${NEW_RULES:-}")

one() { # wrap bin out rules-args... -> "wall cpu" on stdout, alerts in $out
    local wrap=$1 bin=$2 out=$3
    shift 3
    # shellcheck disable=SC2086 # the wrapper is words on purpose
    if ! /usr/bin/time -o "$tmp/replay_pair.time" -f '%e %U %S' \
        $wrap "$bin" replay "$@" --changes "$changes" "$log" >"$out" 2>"$tmp/replay_pair.err"; then
        echo "replay failed: $bin (see $tmp/replay_pair.err)" >&2
        return 1
    fi
    awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$tmp/replay_pair.time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -a ow oc nw nc
for ((i = 0; i < runs; i++)); do
    r=$(one "${OLD_WRAP:-}" "$old" "$tmp/replay_pair.old.ndjson" "${old_args[@]}") || exit 1
    read -r w c <<<"$r"; ow+=("$w"); oc+=("$c")
    r=$(one "${NEW_WRAP:-}" "$new" "$tmp/replay_pair.new.ndjson" "${new_args[@]}") || exit 1
    read -r w c <<<"$r"; nw+=("$w"); nc+=("$c")
done
mow=$(printf '%s\n' "${ow[@]}" | median); moc=$(printf '%s\n' "${oc[@]}" | median)
mnw=$(printf '%s\n' "${nw[@]}" | median); mnc=$(printf '%s\n' "${nc[@]}" | median)

echo "corpus: $log ($lines lines), $runs paired runs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s wall median %6.2f s  (%s)\n' old "$mow" "${ow[*]}"
printf '%-5s wall median %6.2f s  (%s)\n' new "$mnw" "${nw[*]}"
printf '%-5s CPU  median %6.2f s  (%s)\n' old "$moc" "${oc[*]}"
printf '%-5s CPU  median %6.2f s  (%s)\n' new "$mnc" "${nc[*]}"
awk -v a="$mnw" -v b="$mow" -v c="$mnc" -v d="$moc" -v n="$lines" 'BEGIN {
    printf "new/old: wall %.2fx, CPU %.2fx; new: %.0f lines/s\n", a / b, c / d, n / a }'

if [[ -z ${OLD_RULES:-}${NEW_RULES:-} ]]; then
    if cmp -s <(jq -c 'del(.emitted_at)' "$tmp/replay_pair.old.ndjson") \
        <(jq -c 'del(.emitted_at)' "$tmp/replay_pair.new.ndjson"); then
        echo "alerts: identical ($(wc -l <"$tmp/replay_pair.new.ndjson") records)"
    else
        echo "alerts: DIFFERENT"
    fi
fi

if [[ ${CALLGRIND:-0} == 1 ]]; then
    for b in old new; do
        bin=$old; extra=("${old_args[@]}")
        [[ $b == new ]] && { bin=$new; extra=("${new_args[@]}"); }
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" replay "${extra[@]}" \
            --changes "$changes" "$log" 2>&1 >/dev/null | awk -v b="$b" '/Collected/ { print b, "instructions:", $4 }'
    done
fi

#!/usr/bin/env bash
# kill -9 loop against the real service: the crash-loop test with more kills (default 100).
#
#   scripts/crash_loop.sh                  # 100 kills, release build
#   CRASH_KILLS=300 CRASH_SEED=42 scripts/crash_loop.sh
#   PROFILE=dev scripts/crash_loop.sh      # debug build (no extra compile after `cargo test`)
#
# Prints one summary line: kills, lines, alert records in the uninterrupted and the crash run,
# duplicates in the alert file, missing and extra alerts, and the time taken. Exit status is
# the test's.
set -euo pipefail
cd "$(dirname "$0")/.."
export CRASH_KILLS="${CRASH_KILLS:-100}"
profile=(--release)
if [ "${PROFILE:-release}" = dev ]; then profile=(); fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test "${profile[@]}" --test tests crash_loop_kill_9 -- --nocapture >"$log" 2>&1 || status=$?
if grep -q '^crash loop:' "$log"; then
    grep '^crash loop:' "$log"
else
    tail -n 40 "$log"
fi
if [ "$status" -eq 0 ]; then echo "crash loop: PASS"; else echo "crash loop: FAIL (status $status)"; grep -A20 'panicked' "$log" | head -n 60 || true; fi
exit "$status"

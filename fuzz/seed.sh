#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/<target>/ from the project's own material: the
# external real-device lines in ../shared/corpus/external, a small gen.py corpus (syslog, raw
# and NDJSON), the scenario files' lines and change calendars, and the shipped rules.
# Seeds are made here at run time, not committed. Usage: fuzz/seed.sh (from anywhere).
set -euo pipefail

fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"
shared="${SHARED:-$root/../shared}"
corpus="$fuzz/corpus"
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT

for t in line_parser ndjson octet_framer rules_loader changes_loader pipeline; do
    mkdir -p "$corpus/$t"
done

if [ -f "$shared/tools/corpus/gen.py" ]; then
    for fmt in syslog raw ndjson; do
        python3 "$shared/tools/corpus/gen.py" --out "$gen/$fmt" --seed 3 --devices 6 --days 2 \
            --noise-per-device-per-hour 2 --format "$fmt" >/dev/null 2>&1
    done
fi

python3 - "$root" "$shared" "$gen" "$corpus" <<'PY'
import hashlib, os, re, sys
from pathlib import Path

root, shared, gen, corpus = map(Path, sys.argv[1:])

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()
    (corpus / target / name).write_bytes(data)

def block(text, key):
    """The body of a `key: |` block scalar at the top level of a scenario file."""
    m = re.search(rf"^{key}: \|\n((?:(?:  .*)?\n)*)", text, re.M)
    if not m:
        return ""
    return "".join(l[2:] + "\n" for l in m.group(1).splitlines())

def octet(lines):
    return "".join(f"{len(l.encode())} {l}" for l in lines)

# Lines: the external corpus (one file per sample file, and every line on its own).
lines = []
ext = shared / "corpus" / "external"
if ext.is_dir():
    for p in sorted(ext.rglob("*")):
        if p.is_file() and p.suffix not in (".md",):
            text = p.read_text(errors="replace")
            if p.suffix == ".ini":
                text = "\n".join(
                    l.split(" = ", 1)[1] for l in text.splitlines() if re.match(r"log \d+ pass = ", l)
                )
            put("line_parser", b"\x00" + text.encode())
            lines.extend(l for l in text.splitlines() if l.strip())

# Scenarios: lines for the line and pipeline targets, changes for the calendar target.
for p in sorted((root / "tests" / "scenarios").glob("*.yaml")):
    text = p.read_text()
    body = block(text, "lines")
    mode = b"\x02" if "format: ndjson" in text else b"\x00"
    put("line_parser", mode + body.encode())
    put("line_parser", bytes([mode[0] | 8]) + body.encode())  # through the file reader
    put("pipeline", mode + body.encode())
    put("changes_loader", block(text, "changes"))
    scen = [l for l in body.splitlines() if l.strip()]
    lines.extend(scen)
    put("octet_framer", b"\x3f\x00" + octet(scen).encode())
    for l in scen:
        if l.startswith("{"):
            put("ndjson", l)

# A small generated corpus: chunks of 40 lines, every format.
for fmt, mode in (("syslog", b"\x00"), ("raw", b"\x00"), ("ndjson", b"\x02")):
    log = Path(gen) / fmt / ("syslog.ndjson" if fmt == "ndjson" else "syslog.log")
    if not log.exists():
        continue
    gl = log.read_text().splitlines()
    for i in range(0, min(len(gl), 2000), 40):
        chunk = "\n".join(gl[i : i + 40]) + "\n"
        put("line_parser", mode + chunk.encode())
        put("pipeline", mode + chunk.encode())
    if fmt == "ndjson":
        for l in gl[:300:3]:
            put("ndjson", l)
    if fmt == "raw":
        for i in range(0, min(len(gl), 400), 20):
            put("octet_framer", b"\x3f\x03\x05\x0b\x02" + octet(gl[i : i + 20]).encode())
            put("octet_framer", b"\x20\x00" + ("\n".join(gl[i : i + 20]) + "\n").encode())
    changes = Path(gen) / fmt / "changes.yaml"
    if changes.exists():
        put("changes_loader", changes.read_text())

for l in lines[:400]:
    put("line_parser", b"\x04" + l.encode())

# Rules: every shipped file, for both loaders.
for p in sorted((root / "rules").rglob("*.yaml")):
    put("rules_loader", p.read_text())
PY

for t in line_parser ndjson octet_framer rules_loader changes_loader pipeline; do
    printf '%-15s %5d seeds\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done

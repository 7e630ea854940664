#!/usr/bin/env bash
# One prepared GPU check (≤ 8 min on one H200), writing JSON under an output folder:
#   1. SinGAN training on CUDA (bf16 autocast, channels-last, fused Adam): faithful@250, its full
#      2000 iterations per scale (benchmarks/singan.py); if the time runs out, the scales finished
#      so far are recorded from the log;
#   2. Colorize / Stylize / Harmonize frames per second at 1280×720 (benchmarks/gpu_fps.py);
#   3. the harmonization benchmark's SinGAN rows (benchmarks/harmonize.py --device cuda), if present.
# Every step is printed, limited in time, and recorded (ok / failed / timeout / skipped) in
# OUT/gpu_check.json, and a failing step does not stop the others.
#
#   bash scripts/gpu_check.sh [OUTDIR]               # on the GPU machine (default $OUT or out/gpu_check)
#   bash scripts/gpu_check.sh --cpu-smoke [OUTDIR]   # every step, tiny, on the CPU (here)
#
# The GPU machine has no network: its image has torch, numpy, pillow, opencv, imageio, rich,
# networkx, safetensors and scikit-image; the rest comes as wheels made here with
# `bash scripts/gpu_wheels.sh` and carried (run(..., carry=[".gpu-wheels"])). The script makes its
# own venv ($VENV, default /tmp/nodeflow-gpu-venv) on top of the machine's Python ($PYTHON,
# default python3; its site-packages are linked in, since that Python is itself a venv there).
set -uo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
OUTDIR=""
for arg in "$@"; do
    case "$arg" in
        --cpu-smoke) SMOKE=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) OUTDIR="$arg" ;;
    esac
done
OUTDIR=${OUTDIR:-${OUT:-out/gpu_check}}
mkdir -p "$OUTDIR/logs"
OUTDIR=$(cd "$OUTDIR" && pwd)
BUDGET=${GPU_CHECK_BUDGET:-$( [ "$SMOKE" = 1 ] && echo 900 || echo 470 )}  # s for everything (GPU: 8 min - margin)
WHEELS=${WHEELS:-.gpu-wheels}
START=$(date +%s)
STEPS="$OUTDIR/steps.jsonl"
: > "$STEPS"
if [ "$SMOKE" = 1 ]; then
    BASE_PY=${PYTHON:-.venv/bin/python}
    VENV=${VENV:-/tmp/nodeflow-gpu-smoke-venv}
    DEVICE=cpu
else
    BASE_PY=${PYTHON:-python3}
    VENV=${VENV:-/tmp/nodeflow-gpu-venv}
    DEVICE=cuda
fi
PY="$VENV/bin/python"
export NODEFLOW_CACHE_DIR=${NODEFLOW_CACHE_DIR:-/tmp/nodeflow-gpu-cache} PYTHONUNBUFFERED=1  # not under OUT: it comes back

elapsed() { echo $(( $(date +%s) - START )); }

record() {  # record NAME STATUS RC SECONDS NOTE
    printf '{"step": "%s", "status": "%s", "rc": %s, "seconds": %s, "note": "%s"}\n' \
        "$1" "$2" "$3" "$4" "$(printf '%s' "$5" | tr '"\\\n' "'/ ")" >> "$STEPS"
    echo "== [$1] $2 (rc $3, $4 s)"
}

step() {  # step NAME MAX_SECONDS COMMAND...: run it under a time limit, log it, record its status
    local name=$1 limit=$2
    shift 2
    local left=$(( BUDGET - $(elapsed) ))
    [ "$limit" -gt "$left" ] && limit=$left
    if [ "$limit" -le 5 ]; then
        record "$name" skipped 0 0 "no time left in the ${BUDGET} s budget"
        return 0
    fi
    echo "== [$name] up to ${limit} s: $*"
    local t0 rc status
    t0=$(date +%s)
    local cmd=("$@")
    declare -F "$1" >/dev/null && cmd=(bash -c "$*")  # a function of this script (exported below)
    timeout --kill-after=10 "$limit" "${cmd[@]}" 2>&1 | tee "$OUTDIR/logs/$name.log"
    rc=${PIPESTATUS[0]}
    case $rc in 0) status=ok ;; 124|137) status=timeout ;; *) status=failed ;; esac
    record "$name" "$status" "$rc" $(( $(date +%s) - t0 )) "$*"
    return 0
}

make_venv() {
    # a venv on the base Python, which sees the base's packages through a .pth file
    "$BASE_PY" -m venv --without-pip --clear "$VENV" || return 1
    local site
    site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') || return 1
    # addsitedir (not a plain path line) so the base's own .pth files (editable installs) work too
    "$BASE_PY" -c 'import sysconfig; p = sysconfig.get_paths()
print("import site; " + "; ".join(f"site.addsitedir({d!r})" for d in dict.fromkeys((p["purelib"], p["platlib"]))))' \
        > "$site/_nodeflow_base.pth" || return 1
    echo "venv $VENV on $("$BASE_PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    local missing=()
    for pair in pydantic:pydantic pydantic_core:pydantic-core annotated_types:annotated-types \
                typing_inspection:typing-inspection kornia:kornia kornia_rs:kornia-rs platformdirs:platformdirs; do
        "$PY" -c "import ${pair%%:*}" 2>/dev/null || missing+=("${pair##*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "not on this machine: ${missing[*]} -> installing from $WHEELS"
        "$PY" -m pip install --no-index --no-deps --find-links "$WHEELS" "${missing[@]}" || return 1
    fi
    if ! "$PY" -c 'import nodeflow.nodes' 2>/dev/null; then
        "$PY" -m pip install --no-index --no-deps --no-build-isolation -e . || return 1
    fi
    "$PY" - <<'EOF'
import torch, nodeflow.registry as r
names = list(r.default_registry())
print(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, {len(names)} node types")
EOF
}

environment() {
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv
    "$PY" - "$OUTDIR/environment.json" <<'EOF'
import json, os, platform, sys, torch
info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(), "cpu_count": os.cpu_count(), "platform": platform.platform()}
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), sm_count=p.multi_processor_count,
                bf16=torch.cuda.is_bf16_supported())
json.dump(info, open(sys.argv[1], "w"), indent=2)
print(info)
EOF
}

export -f make_venv environment
export BASE_PY VENV PY WHEELS OUTDIR
echo "gpu_check: $( [ "$SMOKE" = 1 ] && echo 'CPU smoke run' || echo 'GPU run' ) -> $OUTDIR (budget ${BUDGET} s)"
step venv 120 make_venv
step environment 30 environment

if [ "$SMOKE" = 1 ]; then
    step singan_faithful 300 "$PY" benchmarks/singan.py --device cpu --runs faithful@40 --iterations 2 \
        --set amp=true --threads 2 --out "$OUTDIR/singan.json"
    step fps 150 "$PY" benchmarks/gpu_fps.py --device cpu --size 320x180 --frames 1 --repeats 1 --threads 2 \
        --out "$OUTDIR/gpu_fps.json"
else
    # the full faithful recipe: 2000 iterations per scale, bf16 autocast (channels-last and fused Adam
    # are what train.py uses on CUDA anyway)
    step singan_faithful 290 "$PY" benchmarks/singan.py --device cuda --runs faithful@250 \
        --set amp=true --out "$OUTDIR/singan.json"
    step fps 90 "$PY" benchmarks/gpu_fps.py --device cuda --size 1280x720 --frames 8 --repeats 5 \
        --out "$OUTDIR/gpu_fps.json"
fi

if [ -f benchmarks/harmonize.py ]; then
    hargs=(--device "$DEVICE")
    help=$("$PY" benchmarks/harmonize.py --help 2>&1 || true)
    grep -q -- "--out" <<<"$help" && hargs+=(--out "$OUTDIR/harmonize.json")
    [ "$SMOKE" = 1 ] && grep -q -- "--quick" <<<"$help" && hargs+=(--quick)
    step harmonize 150 "$PY" benchmarks/harmonize.py "${hargs[@]}"
    find benchmarks/results -name 'harmonize*.json' -newermt "@$START" -exec cp {} "$OUTDIR/" \; 2>/dev/null
else
    record harmonize skipped 0 0 "benchmarks/harmonize.py is not in this checkout"
fi

# one JSON with every step's status and what each wrote (python of the base if the venv failed)
SUMMARY_PY="$PY"
[ -x "$PY" ] && "$PY" -c 'import json' 2>/dev/null || SUMMARY_PY="$BASE_PY"
"$SUMMARY_PY" - "$OUTDIR" "$SMOKE" "$(elapsed)" <<'EOF'
import json, re, sys
from pathlib import Path
out, smoke, seconds = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines() if line.strip()]
results = {}
for name in ("environment", "singan", "gpu_fps", "harmonize"):
    f = out / f"{name}.json"
    if f.exists():
        try:
            results[name] = json.loads(f.read_text())
        except ValueError as exc:
            results[name] = {"error": f"unreadable: {exc}"}
log = out / "logs" / "singan_faithful.log"
if log.exists():  # the scales finished before a timeout, from train.py's log lines
    scales = [{"scale": int(k), "of": int(n), "size": s, "seconds": float(t), "rmse": float(r)} for k, n, s, t, r in
              re.findall(r"scale (\d+)/(\d+) (\(\d+, \d+\)): ([\d.]+) s, reconstruction RMSE ([\d.]+)", log.read_text())]
    results["singan_scales_from_log"] = scales
summary = {"mode": "cpu-smoke" if smoke else "gpu", "seconds": seconds,
           "ok": all(s["status"] in ("ok", "skipped") for s in steps), "steps": steps, "results": results}
(out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
for s in steps:
    print(f"{s['step']:<16} {s['status']:<8} {s['seconds']:>5} s")
print(f"wrote {out / 'gpu_check.json'} ({seconds} s)")
EOF

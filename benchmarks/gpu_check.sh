#!/usr/bin/env bash
# One-shot check of aegroup on a lent GPU machine: tests, training throughput, torchrun + NCCL + DDP + bf16,
# the demo, and CPU-vs-GPU prediction, each step time-limited, the whole run within TOTAL_S seconds.
#
# On the GPU machine (repo root as cwd, the wheels of the missing packages carried in .whl/):
#   bash benchmarks/gpu_check.sh
# Locally, a short dry run through every step (no wheels, the current environment, reduced sizes):
#   OUT=/tmp/gpucheck-out PYTHON=.venv/bin/python SKIP_WHEELS=1 QUICK=1 bash benchmarks/gpu_check.sh
#
# Environment: OUT (default ./gpu-out; gets gpu_check.log, summary.txt and a few small files),
# PYTHON (default python3), SKIP_WHEELS=1 (do not install .whl/), QUICK=1 (tiny sizes, for a CPU try),
# TOTAL_S (overall budget in seconds; default 400, QUICK 600), PYTEST_WORKERS (pytest-xdist workers, 8),
# STEPS (space-separated step names to run, e.g. "wheels pytest"; default all), AEGROUP_TEST_DATA (the
# folder holding sleap/clip.slp + clip.mp4 for the fly and loop steps; default .gpu, carried), FLY_MINUTES.
# A failed or timed-out step is recorded and the next one runs; the exit status is the number of failures.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 99
export OUT=${OUT:-$ROOT/gpu-out}
export PYTHON=${PYTHON:-python3}
export QUICK=${QUICK:-0}
export SKIP_WHEELS=${SKIP_WHEELS:-0}
export PYTEST_WORKERS=${PYTEST_WORKERS:-8}
export PYTHONUNBUFFERED=1
export COLUMNS=${COLUMNS:-150}  # rich wraps tables and progress lines at 80 columns without a terminal
export SITE=/tmp/site
export AEGROUP_TEST_DATA=${AEGROUP_TEST_DATA:-$ROOT/.gpu}
if [[ $QUICK == 1 ]]; then TOTAL_S=${TOTAL_S:-600}; else TOTAL_S=${TOTAL_S:-400}; fi

# ---------------------------------------------------------------------------------------------------------
# Steps: each runs as `bash gpu_check.sh --step NAME` under `timeout`, so a hang is killed with its children.
# ---------------------------------------------------------------------------------------------------------

has_cuda() { "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

step_wheels() {
    if [[ $SKIP_WHEELS == 1 ]]; then
        echo "SKIP_WHEELS=1: using the packages of $PYTHON as they are"
        return 0
    fi
    ls -l .whl/ || return 1
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
}

step_info() {
    nvidia-smi -L || echo "(nvidia-smi failed or is absent)"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null
    echo "cores: $(nproc)"
    df -h /dev/shm /tmp 2>/dev/null
    "$PYTHON" - <<'EOF' || return 1
import importlib, importlib.metadata as md, sys

import torch

print(f"python {sys.version.split()[0]} at {sys.executable}")
print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, cuda.is_available() = {torch.cuda.is_available()}")
if torch.cuda.is_available():
    props = torch.cuda.get_device_properties(0)
    print(f"device 0: {torch.cuda.get_device_name(0)}, {props.total_memory / 2**30:.1f} GiB, "
          f"{props.multi_processor_count} SMs, capability {props.major}.{props.minor}, "
          f"bf16 {torch.cuda.is_bf16_supported()}, cuDNN {torch.backends.cudnn.version()}")
    try:
        print(f"NCCL {torch.cuda.nccl.version()}")
    except Exception as error:  # the DDP step will say more; this line is informative only
        print(f"NCCL version unknown ({error})")
for dist, module in [("numpy", "numpy"), ("numba", "numba"), ("llvmlite", "llvmlite"), ("scipy", "scipy"), ("pydantic", "pydantic"),
                     ("pydantic_core", "pydantic_core"), ("typing_extensions", "typing_extensions"),
                     ("typer", "typer"), ("rich", "rich"), ("pycocotools", "pycocotools"),
                     ("PyYAML", "yaml"), ("pillow", "PIL"), ("safetensors", "safetensors"),
                     ("pytest", "pytest"), ("pytest-timeout", "pytest_timeout"), ("pytest-xdist", "xdist"),
                     ("hypothesis", "hypothesis")]:
    try:
        where = importlib.import_module(module).__file__
        print(f"  {dist:18s} {md.version(dist):12s} {where}")
    except Exception as error:  # report every package, missing ones included
        print(f"  {dist:18s} MISSING ({type(error).__name__}: {error})")
import aegroup.cli  # noqa: F401  (the CLI imports pydantic models at import time)

print(f"aegroup from {aegroup.__file__}")
EOF
    "$PYTHON" -m aegroup --help
}

step_pytest() {
    # GUI tests need PySide6 and the installed aegroup_gui package (both absent there): they are
    # tests/test_gui_*.py (also marked `gui`) and tests/test_project.py (project files through aegroup_gui).
    local args=(-q -x --timeout 120 -p no:cacheprovider -rfE --ignore-glob='tests/test_gui_*'
        --ignore=tests/test_project.py --durations 15)
    if [[ $QUICK == 1 ]]; then args+=(-m "not gui and not slow"); else args+=(-m "not gui"); fi
    if "$PYTHON" -c 'import xdist' 2>/dev/null; then
        # One file per worker keeps module-scoped fixtures (trained checkpoints) built once.
        args+=(-n "$PYTEST_WORKERS" --dist loadfile)
        export OMP_NUM_THREADS=2  # 8 workers x 2 threads fill the 16 cores; all cores each would thrash
    else
        echo "(pytest-xdist absent: running serially)"
    fi
    echo "AEGROUP_TEST_DATA=${AEGROUP_TEST_DATA:-<unset>}: the real-data tests skip when it is absent"
    echo "+ $PYTHON -m pytest ${args[*]}"
    "$PYTHON" -m pytest "${args[@]}"
}

step_bench_train() {
    local args=(--no-torchrun)
    [[ $QUICK == 1 ]] && args+=(--presets tiny --steps 0.3)
    echo "+ $PYTHON benchmarks/bench_train.py ${args[*]}"
    "$PYTHON" benchmarks/bench_train.py "${args[@]}"
}

step_ddp() {
    local work=$WORK/ddp device=cuda precision=bf16 steps=40 more=60 images=128
    if ! has_cuda; then
        echo "NO CUDA HERE: running the same torchrun command on the CPU (gloo, fp32) to check the wiring only"
        device=cpu precision=no
    fi
    [[ $QUICK == 1 ]] && steps=4 more=6 images=16
    rm -rf "$work" && mkdir -p "$work"
    "$PYTHON" -m aegroup synth --schema coco17 --out "$work/train" --images "$images" --size 128 128 --seed 0 || return 1
    "$PYTHON" -m aegroup synth --schema coco17 --out "$work/val" --images 16 --size 128 128 --seed 1 || return 1
    cat >"$work/train.yaml" <<EOF
schema: coco17
train: {ann_file: $work/train/annotations.json, image_dir: $work/train/images}
val: {ann_file: $work/val/annotations.json, image_dir: $work/val/images}
model: {preset: tiny}
input_size: 128
batch_size: 16
max_steps: $steps
val_every: 1000
checkpoint_every: 1000000
workers: 2
device: $device
mixed_precision: "$precision"  # quoted: a bare no is YAML for false
output_dir: $work/run
EOF
    cat "$work/train.yaml"
    local run=("$PYTHON" -m torch.distributed.run --standalone --nproc-per-node 1 -m aegroup train "$work/train.yaml")
    echo "+ ${run[*]}"
    "${run[@]}" || return 1
    # --resume reloads the `last` checkpoint (weights, optimiser, RNG) onto the GPU and trains on.
    echo "+ ${run[*]} --resume --set max_steps=$more"
    "${run[@]}" --resume --set "max_steps=$more" || return 1
    cp "$work/run/train_log.csv" "$OUT/ddp_train_log.csv" 2>/dev/null
    return 0
}

step_demo() {
    local args=(--out "$WORK/demo")
    if [[ $QUICK == 1 ]]; then
        args+=(--steps 30 --train-images 64 --val-images 8)
        echo "QUICK=1: a reduced demo (30 steps, 64 train / 8 val images), not the real one"
    else
        echo "the full default demo: 1200 steps of batch 16 (tiny, input 128), 800 train / 60 val images, device auto"
    fi
    echo "+ $PYTHON -m aegroup demo ${args[*]}"
    local t0=$SECONDS
    "$PYTHON" -m aegroup demo "${args[@]}" || return 1
    echo "demo wall time: $((SECONDS - t0)) s"
    cp "$WORK/demo/metrics.json" "$OUT/demo_metrics.json"
    cp "$WORK/demo/train/train_log.csv" "$OUT/demo_train_log.csv" 2>/dev/null
    cp "$WORK/demo/train/val_log.csv" "$OUT/demo_val_log.csv" 2>/dev/null
    return 0
}

step_predict() {
    # The demo's checkpoint predicts its val split on the CPU and on the GPU: the APs should agree closely.
    local demo=$WORK/demo gpu=cuda
    [[ -f $demo/metrics.json ]] || { echo "no demo output in $demo: nothing to compare"; return 1; }
    local ckpt
    ckpt=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["checkpoint"])' "$demo/metrics.json") || return 1
    if ! has_cuda; then
        echo "NO CUDA HERE: comparing two CPU runs (checks the wiring only)"
        gpu=cpu
    fi
    local failed=0 run=0
    for device in cpu "$gpu"; do
        run=$((run + 1))
        local results=$WORK/predict-$run-$device.json
        echo "+ aegroup predict $ckpt --coco ... --device $device"
        "$PYTHON" -m aegroup predict "$ckpt" --coco "$demo/data/val/annotations.json" \
            --images "$demo/data/val/images" --out "$results" --no-candidates --device "$device" || failed=1
        local scores
        scores=$("$PYTHON" -m aegroup evaluate "$demo/data/val/annotations.json" "$results" --json) || failed=1
        echo "AP on $device: $scores"
    done
    return $failed
}

step_fly() {
    # The fly recipe's full-resolution GPU variant on SLEAP's clip (docs/recipes.md), scored on frames 1200+.
    local slp=$AEGROUP_TEST_DATA/sleap/clip.slp args
    [[ -f $slp ]] || { echo "no $slp: carry the clip in .gpu/sleap (AEGROUP_TEST_DATA=$AEGROUP_TEST_DATA)"; return 1; }
    if [[ $QUICK == 1 ]]; then
        args=(--minutes 0.1 --limit 3 --calibration-steps 2 --set model.preset=tiny --set input_size=128 --set workers=0)
        echo "QUICK=1: the CPU recipe for a few steps on 3 frames, not the real one"
    else
        args=(--gpu --minutes "${FLY_MINUTES:-2.5}")
    fi
    echo "+ $PYTHON benchmarks/bench_real_fly.py ${args[*]} --labels $slp --out $OUT/fly"
    "$PYTHON" benchmarks/bench_real_fly.py "${args[@]}" --labels "$slp" --out "$OUT/fly"
}

step_loop() {
    # The labelling loop on the fly video (docs/performance.md#the-labelling-loop), one GPU, five fine-tunes at a time.
    local args=(--dataset fly-video --out "$WORK/loop")
    if [[ $QUICK == 1 ]]; then
        args+=(--preset smoke --set "budgets=[0.2]")
        echo "QUICK=1: the smoke preset (a few steps), not the real one"
    else
        # One replica (weak seed 0): three would not fit the step's time limit.
        args+=(--gpu --set "weak_seeds=[0]" --set "seeds=[1,2,3]" --set "tune_seeds=[0]" --set jobs=5)
    fi
    echo "+ $PYTHON benchmarks/bench_loop.py ${args[*]}"
    "$PYTHON" benchmarks/bench_loop.py "${args[@]}" || return 1
    cp "$WORK/loop/loop.json" "$OUT/loop.json"
}

step_onnx() {
    # ONNX Runtime vs PyTorch on the GPU (ONNX Runtime's CUDA provider only where onnxruntime-gpu is installed).
    local device=cuda args=()
    has_cuda || device=cpu
    [[ $QUICK == 1 ]] && args=(--presets tiny --sizes 256 --rounds 1 --threads 1)
    echo "+ $PYTHON benchmarks/bench_onnx.py --device $device ${args[*]}"
    "$PYTHON" benchmarks/bench_onnx.py --device "$device" "${args[@]}"
}

if [[ ${1:-} == --step ]]; then
    "step_$2"
    exit $?
fi

# ---------------------------------------------------------------------------------------------------------
# Driver: run the steps in order, each within its limit and the overall budget, then write the summary.
# ---------------------------------------------------------------------------------------------------------

mkdir -p "$OUT"
export WORK
WORK=$(mktemp -d /tmp/gpucheck.XXXXXX)
# The repo root (aegroup is not pip-installed there), then the carried wheels ahead of site-packages.
if [[ $SKIP_WHEELS == 1 ]]; then
    export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}
fi
LOG=$OUT/gpu_check.log
STATUS=$WORK/status
: >"$STATUS"

run_step() {  # run_step NAME LIMIT_S TITLE
    local name=$1 limit=$2 title=$3
    local left=$((TOTAL_S - SECONDS - 5))
    echo
    echo "================================================================================================="
    echo "=== $name: $title   [$(date -u +%H:%M:%S), ${SECONDS}s since start]"
    echo "================================================================================================="
    if ((left < 15)); then
        echo "### $name SKIPPED: the overall budget of ${TOTAL_S}s is spent"
        echo "$name skipped 0 0" >>"$STATUS"
        return
    fi
    if ((limit > left)); then
        echo "(limit cut from ${limit}s to ${left}s by the overall budget)"
        limit=$left
    fi
    local t0=$SECONDS
    # timeout signals the whole process group: DataLoader workers and torchrun children go too.
    timeout -k 10 "$limit" bash "${BASH_SOURCE[0]}" --step "$name" 2>&1 | tee "$WORK/$name.log"
    local rc=${PIPESTATUS[0]} took=$((SECONDS - t0)) verdict=ok
    ((rc == 124 || rc == 137)) && verdict="TIMED-OUT(${limit}s)"
    ((rc != 0 && rc != 124 && rc != 137)) && verdict=FAILED
    echo "### $name: $verdict, exit $rc, ${took}s"
    echo "$name $verdict $rc $took" >>"$STATUS"
}

summary() {
    echo "aegroup GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), tree $(git describe --always --dirty 2>/dev/null || echo "?")"
    echo "device: $(nvidia-smi -L 2>/dev/null | head -1 || true)$(has_cuda || echo ' (no CUDA)')"
    [[ $QUICK == 1 ]] && echo "QUICK=1: reduced sizes, NOT the real GPU figures"
    echo
    printf '%-12s %-22s %5s %6s\n' step verdict exit secs
    while read -r name verdict rc took; do printf '%-12s %-22s %5s %6s\n' "$name" "$verdict" "$rc" "$took"; done <"$STATUS"
    echo
    echo "pytest:"
    grep -E "^(=+ )?[0-9]+ (passed|failed)|[0-9]+ (passed|failed|skipped|error)" "$WORK/pytest.log" 2>/dev/null | tail -2 | sed 's/^/  /'
    echo "bench_train (loop vs bare step, images/s):"
    grep -E "^presets on|images/s" "$WORK/bench_train.log" 2>/dev/null | sed 's/^/  /'
    echo "torchrun --nproc-per-node 1 aegroup train (tiny, batch 16), then --resume:"
    grep -E "images/s\)|^best:|training [0-9]+ steps" "$WORK/ddp.log" 2>/dev/null | sed 's/^/  /'
    echo "demo:"
    if [[ -f $OUT/demo_metrics.json ]]; then
        "$PYTHON" - "$OUT/demo_metrics.json" <<'EOF'
import json, sys

m = json.load(open(sys.argv[1]))
print(f"  device {m['device']}: {m['steps']} steps in {m['train_seconds']} s ({m['train_images_per_s']} images/s), "
      f"whole demo {m['total_seconds']} s")
for grouper, entry in m["groupers"].items():
    ap = entry["metrics"]
    print(f"  {grouper:9s} AP {ap['AP']:.3f} AP50 {ap['AP50']:.3f} AP75 {ap['AP75']:.3f} AR {ap['AR']:.3f}, "
          f"predict {entry['predict_images_per_s']} images/s")
EOF
    else
        echo "  (no metrics.json)"
    fi
    echo "predict, same checkpoint, CPU vs GPU:"
    grep -E "^AP on|images/s\)" "$WORK/predict.log" 2>/dev/null | sed 's/^/  /'
    echo "fly recipe (bench_real_fly.py --gpu):"
    cat "$OUT/fly/fly_benchmark.txt" 2>/dev/null | sed 's/^/  /'
    echo "onnx (bench_onnx.py):"
    grep -E "images/s|^ *(tiny|mid)|provider|CUDA" "$WORK/onnx.log" 2>/dev/null | sed 's/^/  /'
    echo "loop (bench_loop.py): $OUT/loop.json"
    echo
    echo "full log: gpu_check.log; work files in $WORK (not kept)"
}

wanted() { [[ -z ${STEPS:-} || " $STEPS " == *" $1 "* ]]; }

main() {
    echo "aegroup gpu_check: ROOT=$ROOT OUT=$OUT PYTHON=$PYTHON QUICK=$QUICK TOTAL_S=$TOTAL_S WORK=$WORK"
    wanted wheels && run_step wheels 60 "install the carried wheels (.whl/) into $SITE"
    wanted info && run_step info 60 "GPU, torch and package versions"
    wanted pytest && run_step pytest 150 "test suite without the GUI tests"
    wanted bench_train && run_step bench_train 100 "benchmarks/bench_train.py --no-torchrun (presets on the GPU, bf16)"
    wanted ddp && run_step ddp 75 "torchrun --nproc-per-node 1 aegroup train on CUDA (NCCL, DDP, bf16), then --resume"
    wanted demo && run_step demo 190 "aegroup demo"
    wanted predict && run_step predict 45 "aegroup predict of the demo checkpoint on CPU and GPU, evaluated"
    wanted fly && run_step fly 280 "benchmarks/bench_real_fly.py --gpu: the fly recipe at full resolution"
    wanted loop && run_step loop 240 "benchmarks/bench_loop.py --gpu --dataset fly-video: the labelling loop"
    wanted onnx && run_step onnx 60 "benchmarks/bench_onnx.py: ONNX Runtime vs PyTorch on the GPU"
    summary | tee "$OUT/summary.txt"
}

main 2>&1 | tee "$LOG"
failures=$(grep -cv ' ok ' "$STATUS")
rm -rf "$WORK"
exit "$failures"

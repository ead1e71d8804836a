"""Per-image decode time of `aegroup.decode.group` against a straightforward per-joint Python-loop decoder.

Scene: K = 17 joints, 30 instances, 128 x 128 maps, D = 1 and 3, ~10% of joints missing (so refinement
has work), adjust + refine on, both groupers. The loop decoder (`tests/reference_decode.py`, the tests'
reference) implements the same algorithm the obvious way (one joint, one candidate, one instance at a
time, as the reference implementations do); its groupings must equal ours exactly. Everything runs on
one CPU core: the process is pinned to one CPU, numpy's BLAS and OpenMP pools get one thread (torch is
not imported), times are the timed thread's CPU time, and the output shows how much CPU time went to any
other thread (0 ms). Targets: every ratio >= 10x, hungarian + refine < 3 ms.
Run: `python benchmarks/bench_decode.py [--repeats N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__":
    # One CPU core: the target is "per image on one core". Forced (not defaulted) before numpy loads its
    # thread pools, so no work escapes to helper threads that `time.thread_time` would not count.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # = THREAD_VARS
        os.environ[_var] = "1"

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_decode import SIZE, K, N, loop_decode, make_scene  # the tests' reference decoder

from aegroup.decode import DecodeConfig, group
from aegroup.schema import load_schema

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread-pool sizes of numpy's BLAS and OpenMP, forced to 1 before numpy loads."""


def interleaved_ms(
    ours: Callable[[], object], loop: Callable[[], object], repeats: int, loop_repeats: int = 3
) -> tuple[list[float], list[float], list[float]]:
    """CPU times of `ours` and `loop` and wall times of `ours` in ms, runs interleaved (after a warm-up each).

    The loop runs `loop_repeats` times with `repeats / loop_repeats` runs of ours between them, so both see
    the same machine: on a shared, busy machine their ratio stays fair while absolute times drift. CPU time
    (`time.thread_time`) is what one core spends; wall time also counts the time other processes hold it.
    """
    ours()
    loop()
    cpu, wall, loop_cpu = [], [], []
    for _ in range(loop_repeats):
        c0 = time.thread_time()
        loop()
        loop_cpu.append((time.thread_time() - c0) * 1e3)
        for _ in range(max(1, repeats // loop_repeats)):
            c0, w0 = time.thread_time(), time.perf_counter()
            ours()
            cpu.append((time.thread_time() - c0) * 1e3)
            wall.append((time.perf_counter() - w0) * 1e3)
    return cpu, wall, loop_cpu


def main() -> int:
    """Time both decoders on the benchmark scenes, check identical groupings, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per scene (ours)")
    parser.add_argument("--scenes", type=int, default=3, help="random scenes per setting")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        where = f"pinned to CPU {min(os.sched_getaffinity(0))}"
    else:
        where = "not pinned (no sched_setaffinity here)"
    threads = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARS)
    torch_note = "torch not imported" if "torch" not in sys.modules else "torch imported (set to 1 thread)"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    schema = load_schema("coco17")
    order = schema.group_index
    cfg = DecodeConfig(adjust=True, refine=True)
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"decode per image: K={K}, {N} instances, {SIZE}x{SIZE}, adjust+refine, one CPU core")
    print(f"one core: process {where}; {threads}; {torch_note}")
    print(
        f"medians over {args.scenes} scenes x {args.repeats} runs (loop: x 3, interleaved with ours); "
        f"load average {load:.1f}"
    )
    print(
        f"{'method':<10} {'D':>2} {'ours cpu ms':>12} {'loop cpu ms':>12} {'ratio':>7} "
        f"{'ours wall ms':>13} {'ours min ms':>12}  same"
    )
    slow_ratios, slow_hungarian = [], []
    process0, thread0 = time.process_time(), time.thread_time()
    for dim in (1, 3):
        scenes = [make_scene(rng, dim) for _ in range(args.scenes)]
        for method in ("hungarian", "greedy"):
            ours_t, loop_t, ours_w, ours_min = [], [], [], []
            for heat, tags in scenes:
                ours = group(heat, tags, schema, method, cfg)
                ref = loop_decode(heat, tags, order, cfg, method)
                if len(ours) != len(ref) or any(
                    not np.array_equal(a.keypoints, b) for a, b in zip(ours, ref, strict=True)
                ):
                    print(f"MISMATCH: {method} D={dim} groupings differ from the loop decoder")
                    return 1
                cpu, wall, loop_cpu = interleaved_ms(
                    lambda h=heat, t=tags, m=method: group(h, t, schema, m, cfg),
                    lambda h=heat, t=tags, m=method: loop_decode(h, t, order, cfg, m),
                    args.repeats,
                )
                ours_t.append(statistics.median(cpu))
                ours_w.append(statistics.median(wall))
                ours_min.append(min(cpu))
                loop_t.append(statistics.median(loop_cpu))
            ours_ms, loop_ms = statistics.median(ours_t), statistics.median(loop_t)
            ratio = loop_ms / ours_ms
            print(
                f"{method:<10} {dim:>2} {ours_ms:12.2f} {loop_ms:12.2f} {ratio:6.1f}x "
                f"{statistics.median(ours_w):13.2f} {min(ours_min):12.2f}  yes"
            )
            if ratio < 10:
                slow_ratios.append(f"{method} D={dim}")
            if method == "hungarian" and ours_ms >= 3.0:
                slow_hungarian.append(f"D={dim}")
    other = (time.process_time() - process0) - (time.thread_time() - thread0)
    print(f"CPU time spent outside the timed thread: {max(other, 0.0) * 1e3:.0f} ms (0 = truly one core)")
    print(
        "target >= 10x the loop, every row: "
        + (f"NOT met ({', '.join(slow_ratios)})" if slow_ratios else "met")
    )
    print(
        "target < 3 ms CPU, hungarian+refine: "
        + (f"NOT met ({', '.join(slow_hungarian)})" if slow_hungarian else "met (D=1 and D=3)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

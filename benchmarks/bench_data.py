"""Data pipeline speed: vectorised heatmap targets vs a per-joint patch loop; synthesis; dataset items.

Prints times and ratios measured in this run. Usage: python benchmarks/bench_data.py
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from aegroup.data.targets import TRUNCATE, render_heatmaps
from aegroup.schema import load_schema
from aegroup.synth import synthesize


def loop_heatmaps(keypoints: np.ndarray, height: int, width: int, sigma: float) -> np.ndarray:
    """Baseline as the reference implementations write it: one Gaussian patch per joint, in Python."""
    n, k, _ = keypoints.shape
    out = np.zeros((k, height, width), dtype=np.float32)
    radius = TRUNCATE * sigma
    for i in range(n):
        for j in range(k):
            x, y, v = keypoints[i, j]
            if v <= 0 or not (0 <= math.floor(x + 0.5) < width and 0 <= math.floor(y + 0.5) < height):
                continue
            x0, x1 = max(math.ceil(x - radius), 0), min(math.floor(x + radius), width - 1) + 1
            y0, y1 = max(math.ceil(y - radius), 0), min(math.floor(y + radius), height - 1) + 1
            xs = np.arange(x0, x1) - x
            ys = np.arange(y0, y1) - y
            patch = np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * sigma**2)).astype(np.float32)
            np.maximum(out[j, y0:y1, x0:x1], patch, out=out[j, y0:y1, x0:x1])
    return out


def best_of(fn: Callable[[], object], repeat: int = 20) -> float:
    """Fastest of `repeat` timed calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_targets() -> None:
    rng = np.random.default_rng(0)
    for n, k, size in ((4, 17, 128), (12, 17, 128), (30, 17, 128), (6, 21, 64)):
        kp = np.zeros((n, k, 3))
        kp[..., :2] = rng.uniform(-5, size + 5, size=(n, k, 2))
        kp[..., 2] = rng.integers(0, 3, size=(n, k))
        np.testing.assert_allclose(
            render_heatmaps(kp, size, size), loop_heatmaps(kp, size, size, 2.0), atol=1e-6
        )
        fast = best_of(lambda kp=kp, size=size: render_heatmaps(kp, size, size))
        slow = best_of(lambda kp=kp, size=size: loop_heatmaps(kp, size, size, 2.0))
        print(
            f"targets N={n:2d} K={k} {size}x{size}: vectorised {fast * 1e3:6.2f} ms, per-joint loop "
            f"{slow * 1e3:6.2f} ms, ratio loop/vectorised {slow / fast:5.2f}"
        )


def bench_synth_and_items() -> None:
    import torch

    from aegroup.data import CocoPoseDataset

    torch.set_num_threads(1)
    schema = load_schema("coco17")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ann = synthesize(schema, Path(tmp), n_images=100, size=(256, 256), seed=0)
        synth = time.perf_counter() - start
        print(f"synth: 100 images 256x256 coco17 in {synth:.2f} s ({100 / synth:.0f} images/s)")
        ds = CocoPoseDataset(ann, Path(tmp) / "images", schema, train=True, input_size=256)
        start = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        items = time.perf_counter() - start
        print(f"dataset: 100 augmented training items at 256 in {items:.2f} s ({100 / items:.0f} items/s)")


if __name__ == "__main__":
    bench_targets()
    bench_synth_and_items()

"""Forward + backward time of the vectorised `ae_loss` against the per-instance loop reference.

Batch 16, K = 17, 30 instances, 128 x 128 tag maps, D = 1; medians of repeated runs in one process, on
the CPU and, when present, on the GPU. The loop reference is the one the tests prove `ae_loss` against.
Run: `.venv/bin/python benchmarks/bench_loss.py [--threads N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_loss_ae import loop_ae_loss  # the tests' obviously-correct reference

from aegroup.loss import ae_loss

LossFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def make_case(
    device: torch.device,
    batch: int = 16,
    joints: int = 17,
    instances: int = 30,
    size: int = 128,
    dim: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tags `[B, K*H*W, D]` and joints `[B, M, K, 2]`: all instances present, 80% joints visible."""
    gen = torch.Generator().manual_seed(0)
    tags = torch.randn(batch, joints * size * size, dim, generator=gen)
    pixel = torch.randint(0, size * size, (batch, instances, joints), generator=gen)
    index = torch.arange(joints) * size * size + pixel
    visible = (torch.rand(batch, instances, joints, generator=gen) < 0.8).long()
    visible[..., 0] = 1
    return tags.to(device), torch.stack([index * visible, visible], dim=-1).to(device)


def time_fwd_bwd(
    fn: LossFn, tags: torch.Tensor, joints: torch.Tensor, repeats: int, warmup: int
) -> tuple[float, torch.Tensor]:
    """Median seconds of push + pull forward and the gradient wrt `tags`; also the last (push, pull)."""
    times = []
    for i in range(warmup + repeats):
        if tags.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        leaf = tags.detach().requires_grad_(True)
        push, pull = fn(leaf, joints)
        torch.autograd.grad(push.sum() + pull.sum(), leaf)
        if tags.is_cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), torch.stack([push, pull]).detach()


def bench(device: torch.device) -> float:
    """Print and return the loop / vectorised time ratio on `device`; fails if the two disagree."""
    tags, joints = make_case(device)
    fast, fast_out = time_fwd_bwd(ae_loss, tags, joints, repeats=30, warmup=3)
    # The loop is Python-bound (tens of thousands of small ops), so three runs give a stable median.
    slow, slow_out = time_fwd_bwd(loop_ae_loss, tags, joints, repeats=3, warmup=0)
    torch.testing.assert_close(fast_out, slow_out, rtol=1e-4, atol=1e-6)
    ratio = slow / fast
    print(f"{device.type:>6} | {slow * 1e3:12.1f} | {fast * 1e3:12.3f} | {ratio:8.0f}x")
    return ratio


def main() -> None:
    """Benchmark on the CPU and on the GPU when there is one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"ae_loss fwd+bwd: B=16, K=17, M=30, 128x128, D=1; CPU threads={torch.get_num_threads()}")
    print("device |  loop ms/it  | vector ms/it |   ratio")
    cpu_ratio = bench(torch.device("cpu"))
    if torch.cuda.is_available():
        bench(torch.device("cuda"))
    print(f"CPU target >= 100x: {'met' if cpu_ratio >= 100 else 'NOT met'}")


if __name__ == "__main__":
    main()

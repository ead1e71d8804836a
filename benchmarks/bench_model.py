"""Training-step throughput (images/s) of each model preset: eager vs torch.compile, fp32 vs autocast.

One step = forward, `total_loss`, backward and an Adam update, on a fixed random batch, channels_last,
on the current device (CUDA when present, else CPU). Autocast is bf16 on both CPU and GPU. On a GPU the
compiled rows run by default at the presets' own input sizes. On a CPU compiling takes minutes per
configuration (about 8 on a busy 2-core machine for the tiny preset), so there the input side defaults
to 128 px and compiled rows run only with `--compile`, the paper preset's only with `--compile-paper`.
Run: `.venv/bin/python benchmarks/bench_model.py [--presets tiny mid paper] [--compile] [--threads N]`."""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch

from aegroup.loss import LossConfig, total_loss
from aegroup.model import PRESETS, ModelConfig, build_model

NUM_JOINTS = 17


def make_batch(
    device: torch.device, batch: int, size: int, instances: int = 30
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random images `[B, 3, S, S]`, heatmaps, mask and joints for `NUM_JOINTS` joints at stride 4."""
    gen = torch.Generator().manual_seed(0)
    out = size // 4
    images = torch.randn(batch, 3, size, size, generator=gen).to(memory_format=torch.channels_last)
    heatmaps = torch.rand(batch, NUM_JOINTS, out, out, generator=gen)
    mask = torch.ones(batch, out, out)
    index = torch.arange(NUM_JOINTS) * out * out + torch.randint(0, out * out, (batch, instances, NUM_JOINTS))
    joints = torch.stack([index, torch.ones_like(index)], dim=-1)
    return tuple(t.to(device) for t in (images, heatmaps, mask, joints))  # type: ignore[return-value]


def throughput(
    preset: str, device: torch.device, size: int, batch: int, compiled: bool, bf16: bool, steps: int
) -> tuple[float, float]:
    """(images per second over `steps` timed steps, seconds of the first step incl. any compilation)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig.preset(preset, NUM_JOINTS)).to(device, memory_format=torch.channels_last)
    forward = torch.compile(model) if compiled else model
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    images, heatmaps, mask, joints = make_batch(device, batch, size)
    cfg = LossConfig()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()

    def step() -> None:
        with autocast:
            out = forward(images)
            loss = total_loss(out, heatmaps, mask, joints, cfg).total
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    start = time.perf_counter()
    step()  # warm-up: compilation, allocator, kernel selection
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start), first


def main() -> None:
    """Print one table row per preset, compile mode and precision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument(
        "--size", type=int, default=None, help="input side (default: 128 on CPU, preset's on GPU)"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="images per step (default: 2 on CPU, 16 on GPU)"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 2 on CPU, 20 on GPU)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add torch.compile rows (default: on a GPU only)",
    )
    parser.add_argument(
        "--compile-paper", action="store_true", help="on a CPU, also compile the paper preset"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    on_gpu = device.type == "cuda"
    batch = args.batch or (16 if on_gpu else 2)
    steps = args.steps or (20 if on_gpu else 2)
    name = torch.cuda.get_device_name() if on_gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"training step throughput on {name}; batch {batch}, {steps} timed steps after 1 warm-up step")
    print(f"{'preset':<7}|{'input':>6} | {'mode':<8}| {'dtype':<6}| {'img/s':>8} | {'first step s':>12}")
    for preset in args.presets:
        size = args.size or (PRESETS[preset]["input_size"] if on_gpu else 128)
        for compiled in (False, True):
            want = on_gpu if args.compile is None else args.compile
            paper_on_cpu = preset == "paper" and not on_gpu and not args.compile_paper
            skip = compiled and (not want or paper_on_cpu)
            for bf16 in (False, True):
                mode, dtype = ("compile" if compiled else "eager"), ("bf16" if bf16 else "fp32")
                if skip:
                    print(f"{preset:<7}|{size:>6} | {mode:<8}| {dtype:<6}| {'skipped':>8} |")
                    continue
                try:
                    ips, first = throughput(preset, device, size, batch, compiled, bf16, steps)
                except Exception as err:  # a compiler bug in one configuration should not hide the others
                    print(
                        f"{preset:<7}|{size:>6} | {mode:<8}| {dtype:<6}| {'failed':>8} | {type(err).__name__}"
                    )
                    continue
                print(
                    f"{preset:<7}|{size:>6} | {mode:<8}| {dtype:<6}| {ips:8.2f} | {first:12.1f}", flush=True
                )


if __name__ == "__main__":
    main()

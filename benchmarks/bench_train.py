"""Training throughput: the full loop per preset against a bare step, and 1 vs 2 CPU processes (torchrun).

For each preset, `aegroup.training.train` runs a few steps on a synthetic set (data loading, augmentation,
targets, logging included) and is compared with a bare optimisation step (one fixed batch, no data
pipeline) of the same model and batch in this process: the ratio is what the loop costs around the
compute. The bare step is also timed with plain NCHW tensors: channels-last over NCHW is the speed-up of
the training default `channels_last: true`. Then the tiny preset runs under `torchrun --nproc-per-node 1`
and `2` on the CPU (gloo, one thread per process when two run) and the ratio of images/s is printed. On
a CUDA machine the presets run on the GPU with mixed precision (bf16).

Usage: python benchmarks/bench_train.py [--presets tiny,mid,paper] [--steps N] [--no-torchrun]
On a busy machine, `OMP_NUM_THREADS=1` keeps spinning OpenMP threads from dominating the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from aegroup.loss import LossConfig, total_loss
from aegroup.model import build_model
from aegroup.schema import load_schema
from aegroup.synth import synthesize
from aegroup.training import TrainConfig, train
from aegroup.training.loaders import open_split

# Per preset on a CPU: (input size, batch, steps); a GPU multiplies the batch and the steps.
CPU_PLAN = {"tiny": (128, 8, 10), "mid": (256, 2, 3), "paper": (256, 1, 2)}


def make_config(
    data: Path, out: Path, preset: str, size: int, batch: int, steps: int, gpu: bool
) -> TrainConfig:
    """A run of `steps` steps of `preset` on the synthetic set, without validation."""
    return TrainConfig.model_validate(
        {
            "schema": "coco17",
            "train": {"ann_file": str(data / "annotations.json"), "image_dir": str(data / "images")},
            "model": {"preset": preset},
            "input_size": size,
            "batch_size": batch,
            "max_steps": steps,
            "workers": 4 if gpu else 1,
            "mixed_precision": "bf16" if gpu else "no",
            "checkpoint_every": 10**6,
            "output_dir": str(out),
        }
    )


def bare_images_per_s(config: TrainConfig, device: torch.device, channels_last: bool) -> float:
    """Images/s of forward + loss + backward + Adam on one fixed batch: the compute alone.

    One untimed warm-up step first (oneDNN / cuDNN pick their kernels on the first call).
    """
    schema = config.resolve_schema()
    dataset = open_split(config.train, schema, config, train=True)
    from aegroup.data.collate import collate

    batch = collate([dataset[i % len(dataset)] for i in range(config.batch_size)])
    torch.manual_seed(0)
    model = build_model(config.resolve_model(schema.num_joints)).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    tensors = [batch[k].to(device) for k in ("image", "heatmaps", "mask", "joints")]
    enabled = config.mixed_precision != "no"
    steps = config.max_steps or 1
    for step in range(steps + 1):
        if step == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
            output = model(tensors[0])
        output = type(output)([h.float() for h in output.heatmaps], [t.float() for t in output.tags])
        loss = total_loss(output, *tensors[1:], LossConfig()).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return config.batch_size * steps / (time.perf_counter() - start)


def bench_presets(data: Path, work: Path, presets: list[str], scale: float) -> None:
    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    where = torch.cuda.get_device_name() if gpu else f"CPU ({torch.get_num_threads()} threads)"
    # Other work on the machine skews CPU figures badly (spinning OpenMP threads): say how busy it was.
    print(f"presets on {where}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for preset in presets:
        size, batch, steps = CPU_PLAN[preset]
        if gpu:
            batch, steps = batch * 8, steps * 4
        steps = max(2, int(steps * scale))
        config = make_config(data, work / preset, preset, size, batch, steps, gpu)
        nchw = bare_images_per_s(config, device, channels_last=False)
        bare = bare_images_per_s(config, device, channels_last=True)
        result = train(config)  # channels-last, the training default
        print(
            f"  {preset:5s} input {size} batch {batch:2d} x {steps:2d} steps: "
            f"loop {result.images_per_s:7.2f} images/s, bare step {bare:7.2f} images/s, "
            f"loop/bare {result.images_per_s / bare:.2f}; bare step NCHW {nchw:7.2f} images/s, "
            f"channels-last/NCHW {bare / nchw:.2f}x"
        )


def torchrun_images_per_s(config_path: Path, out: Path, nproc: int) -> float:
    """Images/s reported by `aegroup train` under torchrun with `nproc` CPU processes."""
    # The cores are shared out between the processes unless OMP_NUM_THREADS fixes the threads per process.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 2) // nproc))
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    command += ["-m", "aegroup", "train", str(config_path), "--out", str(out), "--set", "device=cpu"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"torchrun with {nproc} processes failed:\n{done.stderr[-2000:]}")
    match = re.search(r"\(([\d.]+) images/s\)", done.stdout)
    if match is None:
        raise SystemExit(f"no images/s in the output:\n{done.stdout}")
    return float(match.group(1))


def bench_torchrun(data: Path, work: Path, scale: float) -> None:
    size, batch, steps = CPU_PLAN["tiny"]
    config = make_config(data, work / "unused", "tiny", size, batch, max(2, int(steps * scale)), gpu=False)
    data_dict = config.model_dump(mode="json", by_alias=True)
    data_dict["workers"] = 0  # the process count, not the loader workers, is what is compared
    path = work / "torchrun.yaml"
    path.write_text(yaml.safe_dump(data_dict))
    one = torchrun_images_per_s(path, work / "np1", 1)
    two = torchrun_images_per_s(path, work / "np2", 2)
    fixed = os.environ.get("OMP_NUM_THREADS")
    threads = f"{fixed} thread(s) per process" if fixed else "the cores shared out between processes"
    print(f"tiny under torchrun on {os.cpu_count()} CPU cores, {threads}, batch {batch} per process:")
    print(f"  1 process  {one:7.2f} images/s")
    print(f"  2 processes {two:7.2f} images/s  (2 vs 1: {two / one:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,mid,paper")
    parser.add_argument("--steps", type=float, default=1.0, help="scale the number of steps")
    parser.add_argument("--no-torchrun", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # On a GPU the batches are 8x larger: 8x the images keep several batches per epoch, so the loader's
        # workers share the work instead of one of them loading each epoch's only batch.
        images = 256 if torch.cuda.is_available() else 32
        synthesize(
            load_schema("coco17"), work / "data", n_images=images, max_instances=4, size=(256, 256), seed=0
        )
        bench_presets(work / "data", work, args.presets.split(","), args.steps)
        if not args.no_torchrun:
            bench_torchrun(work / "data", work, args.steps)


if __name__ == "__main__":
    main()

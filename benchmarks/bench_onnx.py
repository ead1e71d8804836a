"""Network throughput (images/s) of an ONNX export in ONNX Runtime vs the same network in PyTorch.

Each preset (17 joints, random weights) is saved as a checkpoint and exported by `aegroup.deploy.export`
(dynamic size: one file serves every input side). A row times one batch, numpy in and numpy out as
`Predictor` needs it, for PyTorch eager (channels_last, inference mode, what `Predictor` runs), ONNX
Runtime, and optionally `torch.compile`; the backends alternate round by round so that load drifting on
a shared machine hits all of them, and each row's ratio is to PyTorch eager measured in that same row.

CPU (default): tiny and mid presets at 256 and 512 px, 1 and 2 threads, batch 1 (about 1 minute on an
idle 2-core VM). torch.compile rows only with `--compile`: every input shape and thread count compiles
(about 30 s each on that VM, minutes when it is busy; the whole table then takes about 9 minutes).
GPU: `--device cuda` times PyTorch CUDA against ONNX Runtime's CUDA execution provider (batch 8, compile
rows by default); without `onnxruntime-gpu` the PyTorch rows still run and a line says why ONNX did not.
Run: `.venv/bin/python benchmarks/bench_onnx.py [--device cuda] [--presets tiny mid] [--sizes 256 512]
[--threads 1 2] [--batch N] [--rounds N] [--compile]`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from aegroup.decode import DecodeConfig
from aegroup.deploy.export import export_onnx
from aegroup.deploy.runtime import OnnxModel
from aegroup.errors import AegroupError
from aegroup.model import ModelConfig, build_model
from aegroup.schema import load_schema
from aegroup.training.checkpoint import save_checkpoint

Runner = Callable[[np.ndarray], object]


def export_preset(preset: str, folder: Path) -> tuple[torch.nn.Module, Path]:
    """A random-weight `preset` network for COCO's 17 joints and its dynamic-size ONNX export."""
    torch.manual_seed(0)
    schema = load_schema("coco17")
    config = ModelConfig.preset(preset, schema.num_joints)
    model = build_model(config).eval()
    checkpoint = save_checkpoint(folder / preset, model, schema, config, DecodeConfig(), 0, 0)
    return model, export_onnx(checkpoint, folder / f"{preset}.onnx").path


def torch_runner(model: torch.nn.Module, device: torch.device, compiled: bool) -> Runner:
    """numpy batch -> numpy heatmaps and tags through PyTorch (channels_last; compiled when asked)."""
    net = model.to(device, memory_format=torch.channels_last)
    forward = torch.compile(net) if compiled else net

    def run(batch: np.ndarray) -> object:
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(device).contiguous(memory_format=torch.channels_last)
            out = forward(x)
            return out.heatmaps[-1].cpu().numpy(), out.tags[-1].cpu().numpy()

    return run


def onnx_runner(path: Path, device: str, threads: int) -> tuple[Runner | None, str]:
    """(numpy batch -> maps through ONNX Runtime, its provider: CPU or CUDA) or (None, why it cannot run)."""
    try:
        model = OnnxModel(path, device=device, threads=threads)
    except AegroupError as err:
        return None, str(err)
    return model.run, model.providers[0].removesuffix("ExecutionProvider")


def time_rounds(runners: dict[str, Runner], batch: np.ndarray, rounds: int) -> dict[str, float]:
    """Median seconds per batch of each runner; one warm-up each, then the runners alternate per round."""
    for run in runners.values():
        run(batch)  # warm-up: allocations, kernel selection, compilation
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(batch)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine(device: torch.device) -> str:
    """One line naming the processor (or GPU) and the library versions."""
    import onnxruntime

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return f"{where}; torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux) and its core count."""
    name = platform.processor() or "CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name} ({os.cpu_count()} logical cores)"


def main() -> None:
    """Print one row per preset, input side and thread count (CPU) with each backend's images/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--presets", nargs="+", default=["tiny", "mid"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--threads", nargs="+", type=int, default=None, help="CPU threads (default: 1 2)")
    parser.add_argument("--batch", type=int, default=None, help="images per batch (default: 1 CPU, 8 GPU)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per row (median reported)")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add torch.compile rows (default: on a GPU only)",
    )
    args = parser.parse_args()
    on_gpu = args.device == "cuda"
    if on_gpu and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    device = torch.device(args.device)
    batch_size = args.batch or (8 if on_gpu else 1)
    thread_counts = [0] if on_gpu else (args.threads or [1, 2])
    compiled = on_gpu if args.compile is None else args.compile
    print(f"network throughput, batch {batch_size}, median of {args.rounds} alternating rounds")
    print(f"on {machine(device)}; load average {os.getloadavg()[0]:.1f} at the start")
    if not compiled:
        print("torch.compile rows skipped: pass --compile (on a CPU each input shape compiles for 30 s+)")
    print(f"{'preset':<6}|{'input':>6} |{'threads':>8} | {'eager img/s':>11} | {'onnxruntime':>21} | compile")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            model, path = export_preset(preset, Path(tmp))
            for threads in thread_counts:
                if threads:
                    torch.set_num_threads(threads)
                ort_run, providers = onnx_runner(path, "cuda" if on_gpu else "cpu", threads)
                runners = {"eager": torch_runner(model, device, compiled=False)}
                if ort_run is not None:
                    runners["onnx"] = ort_run
                if compiled:
                    runners["compile"] = torch_runner(model, device, compiled=True)
                for size in args.sizes:
                    batch = np.random.default_rng(0).standard_normal((batch_size, 3, size, size), np.float32)
                    seconds = time_rounds(runners, batch, args.rounds)
                    print(row(preset, size, threads, batch_size, seconds, providers), flush=True)
            if ort_run is None:
                print(f"  onnxruntime did not run: {providers}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end (2-thread rows suffer most from other jobs)")


def row(preset: str, size: int, threads: int, batch: int, seconds: dict[str, float], providers: str) -> str:
    """One table row: images/s per backend, and the ratio of each to PyTorch eager."""
    eager = batch / seconds["eager"]

    def cell(name: str, width: int, label: str = "") -> str:
        if name not in seconds:
            return f"{'-':>{width}}"
        rate = batch / seconds[name]
        return f"{rate:8.2f} ({rate / eager:4.2f}x{label})".rjust(width)

    return (
        f"{preset:<6}|{size:>6} |{threads or '-':>8} | {eager:11.2f} | "
        f"{cell('onnx', 21, ' ' + providers)} | {cell('compile', 19)}"
    )


if __name__ == "__main__":
    main()

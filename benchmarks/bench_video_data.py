"""Training items from video frames vs the same frames as PNG files, in random order (as training draws them).

The frames: the shared fly clip (../shared/data/sleap/clip.mp4: 1024x1024 grey H.264, a keyframe every 250
frames) when present, else a synthetic 1024x1024 clip encoded the same way. Labels are placed by hand
(they only feed the targets, which cost the same either way). For N frames spread over the clip it times,
in this process:
  - pixels alone and whole dataset items (decode, augmentation warp to the input size, targets) read
    from PNG files (the baseline), from the video decoded on demand (a seek to the keyframe before the
    frame, then decoding forward) and from the preloaded cache (`frame_cache`);
  - the preload itself (decoding the frames once in file order);
  - with --workers W: batches per second of a DataLoader with W worker processes over each source;
  - a training step of a preset (tiny by default) on one batch, on the GPU when there is one (bf16).
Every ratio is against PNG files measured in the same run.

Usage: python benchmarks/bench_video_data.py [--frames 64] [--input-size 512] [--video PATH]
       [--workers W] [--preset tiny|mid|paper] [--batch B]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from aegroup.data import PoseDataset, collate
from aegroup.data.sources import PoseSetFrames
from aegroup.io.poses import Frame, PoseSet, VideoRef
from aegroup.io.video import VideoReader
from aegroup.loss import LossConfig, total_loss
from aegroup.model import ModelConfig, build_model
from aegroup.schema import PoseSchema

SHARED_CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleap" / "clip.mp4"


def synthetic_clip(path: Path, frames: int = 500, size: int = 1024) -> Path:
    """A grey H.264 clip of moving blobs, a keyframe every 250 frames (what a lab camera writes)."""
    import av

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    centres = rng.uniform(100, size - 100, (6, 2))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = 250
        for _ in range(frames):
            centres = np.clip(centres + rng.normal(0, 3, centres.shape), 50, size - 50)
            image = np.full((size, size), 200.0)
            for cx, cy in centres:
                image -= 120 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 25.0**2))
            grey = np.repeat(image.clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(grey, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def labelled_set(clip: Path, count: int, schema: PoseSchema) -> PoseSet:
    """`count` frames spread over the clip, two instances each at made-up positions."""
    reader = VideoReader(clip)
    rng = np.random.default_rng(1)
    indices = np.sort(rng.choice(reader.frames, size=min(count, reader.frames), replace=False))
    frames = []
    for i, index in enumerate(indices):
        keypoints = np.ones((2, schema.num_joints, 3)) * 2
        keypoints[..., :2] = rng.uniform(
            100, min(reader.width, reader.height) - 100, (2, schema.num_joints, 2)
        )
        frames.append(Frame.build(i, reader.width, reader.height, keypoints, video=0, frame_index=int(index)))
    return PoseSet(schema, frames, videos=[VideoRef(str(clip), reader.width, reader.height, reader.frames)])


def as_pngs(poses: PoseSet, folder: Path) -> PoseSet:
    """The same frames written as PNG files (decoded from the video), and a set naming them."""
    reader = VideoReader(poses.videos[0].path)
    frames = []
    for f in poses.frames:
        name = f"frame_{f.frame_index:05d}.png"
        Image.fromarray(reader.read(int(f.frame_index))).save(folder / name)  # type: ignore[arg-type]
        frames.append(replace(f, video=None, frame_index=None, file_name=name))
    return replace(poses, frames=frames, videos=[], image_dir=folder)


def per_second(fn: Callable[[int], object], count: int, order: list[int]) -> float:
    """Calls per second of fn(i) over `order` (one untimed call first)."""
    fn(order[0])
    start = time.perf_counter()
    for i in order[:count]:
        fn(i)
    return count / (time.perf_counter() - start)


def loader_batches_per_second(dataset: PoseDataset, workers: int, batch: int, batches: int) -> float:
    """Batches per second of a DataLoader with `workers` processes, random order, start-up excluded."""
    order = [int(i) for i in np.random.default_rng(3).permutation(len(dataset))]
    order = (order * (batch * (batches + 1) // len(order) + 1))[: batch * (batches + 1)]
    loader = DataLoader(dataset, batch_size=batch, sampler=order, num_workers=workers, collate_fn=collate)
    iterator = iter(loader)
    next(iterator)  # workers started and warm
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count / (time.perf_counter() - start)


def step_seconds(
    dataset: PoseDataset, schema: PoseSchema, preset: str, input_size: int, batch: int, device: torch.device
) -> float:
    """Seconds of one optimisation step of a preset on a batch of items (bf16 on a GPU), after warm-up."""
    config = ModelConfig.preset(preset, num_joints=schema.num_joints, input_size=input_size)
    model = build_model(config).train().to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = collate([dataset[i % len(dataset)] for i in range(batch)])
    tensors = [data[k].to(device) for k in ("image", "heatmaps", "mask", "joints")]
    cuda = device.type == "cuda"
    for step in range(6 if cuda else 2):
        if step == (3 if cuda else 1):
            torch.cuda.synchronize() if cuda else None
            start, timed = time.perf_counter(), 0
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            output = model(tensors[0])
        output = type(output)([h.float() for h in output.heatmaps], [t.float() for t in output.tags])
        loss = total_loss(output, *tensors[1:], LossConfig()).total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= (3 if cuda else 1):
            timed += 1
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=64, help="labelled frames spread over the clip")
    parser.add_argument("--input-size", type=int, default=512, help="network input side")
    parser.add_argument("--batch", type=int, default=4, help="batch of the loader and the training step")
    parser.add_argument("--video", type=Path, default=None, help="clip to use (default: the shared fly clip)")
    parser.add_argument(
        "--workers", type=int, default=0, help="also time a DataLoader with this many workers"
    )
    parser.add_argument("--preset", default="tiny", help="model preset of the training step")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one DataLoader worker's view: decoding and augmentation on one core
    schema = PoseSchema(name="fly13", joints=[f"j{i}" for i in range(13)])
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.video or (
            SHARED_CLIP if SHARED_CLIP.is_file() else synthetic_clip(Path(tmp) / "clip.mp4")
        )
        video = labelled_set(clip, args.frames, schema)
        pngs = as_pngs(video, Path(tmp))
        reader = VideoReader(clip)
        print(
            f"{len(video)} frames of {clip.name} ({reader.width}x{reader.height}, {reader.frames} frames, "
            f"keyframes every ~{reader.frames // max(len(reader._keys), 1)}), input {args.input_size}, "
            f"random order, one thread"
        )
        order = list(np.random.default_rng(2).permutation(len(video)))
        n = len(order) - 1
        sources = {
            "PNG files": PoseSetFrames(pngs, pngs.image_dir),  # type: ignore[arg-type]
            "video, on demand": PoseSetFrames(video, clip.parent),
        }
        cached = PoseSetFrames(video, clip.parent)
        start = time.perf_counter()
        cached.preload()
        preload = time.perf_counter() - start
        sources["video, preloaded"] = cached
        pixels = {name: per_second(src.pixels, n, order) for name, src in sources.items()}
        items = {}
        for name, src in sources.items():
            dataset = PoseDataset(src, train=True, input_size=args.input_size)
            items[name] = per_second(dataset.__getitem__, n, order)
        for name in sources:
            px, it = pixels[name], items[name]
            print(
                f"  {name:17s}: pixels {px:7.1f} frames/s ({px / pixels['PNG files']:5.2f}x PNG)"
                f"   items {it:6.1f} frames/s ({it / items['PNG files']:5.2f}x PNG)"
            )
        held = cached.videos.cached_bytes / 2**20
        print(
            f"  preload: {len(video)} frames in {preload:.2f} s ({len(video) / preload:.1f} frames/s), "
            f"{held:.0f} MiB held ({held / len(video):.2f} MiB a frame)"
        )
        datasets = {
            name: PoseDataset(src, train=True, input_size=args.input_size) for name, src in sources.items()
        }
        loads = {name: args.batch / items[name] for name in sources}
        label = "1 worker"
        if args.workers:
            label = f"{args.workers} workers"
            for name, dataset in datasets.items():
                loads[name] = 1 / loader_batches_per_second(dataset, args.workers, args.batch, batches=8)
        torch.set_num_threads(threads)
        step = step_seconds(
            datasets["video, preloaded"], schema, args.preset, args.input_size, args.batch, device
        )
        for name in sources:
            print(
                f"  batch of {args.batch} from {name:17s}: {loads[name]:6.3f} s to load ({label}) vs "
                f"{step:.3f} s for a {args.preset} training step on {device.type}: {loads[name] / step:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

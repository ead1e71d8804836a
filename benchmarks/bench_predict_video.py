"""Predicting a video's frames straight from the video vs from the same frames saved as PNG files.

`aegroup predict VIDEO` decodes frames forward on one background thread while the network runs; the
baseline, measured in the same run with the same model and the same frames, is what a user did before:
extract the frames as PNG (as `aegroup convert` writes them) and predict the image folder, whose files
are read on two background threads. Both write a results file with candidates (writing not timed). The
rounds alternate between the two and the median of each is reported; the ratio is video / PNG frames/s.
Reading alone (decoding vs PNG files, no network) is timed too, as the part that differs.

Uses the shared 1024 x 1024 fly clip ($AEGROUP_TEST_DATA or ../shared/data/sleap/clip.mp4) when present,
else a synthetic H.264 video (`bench_video_frames.clip_or_synthetic`). The model is an untrained preset
for the clip's skeleton (speed only). Usage:
    python benchmarks/bench_predict_video.py [--frames 120] [--input 256] [--preset tiny]
        [--backend torch|onnx] [--device cpu|cuda] [--batch 8] [--threads 1]
On a GPU machine (`--device cuda`) the network is fast and reading frames is most of the cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_video_frames import clip_or_synthetic

from aegroup.io.coco import read_rgb
from aegroup.io.frames import save_png
from aegroup.io.video import VideoReader
from aegroup.predict import Predictor
from aegroup.predict.files import image_list, run_prediction
from aegroup.predict.video import open_video, run_video_prediction
from aegroup.schema import PoseSchema, load_schema


def skeleton(clip: Path) -> PoseSchema:
    """The fly skeleton of the clip's .slp beside it, else a built-in one."""
    labels = clip.with_suffix(".slp")
    if labels.is_file():
        from aegroup.io.formats import read_schema

        return read_schema(labels)
    return load_schema("coco17")


def model(
    work: Path, schema: PoseSchema, preset: str, side: int, backend: str, device: str, threads: int
) -> Predictor:
    """An untrained `preset` network for `schema` at input `side`, in PyTorch or exported to ONNX."""
    import torch

    from aegroup.decode import DecodeConfig
    from aegroup.model import ModelConfig, build_model
    from aegroup.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    config = ModelConfig.preset(preset, schema.num_joints, input_size=side)
    decode = DecodeConfig(max_instances=4)
    ckpt = save_checkpoint(work / "ckpt", build_model(config), schema, config, decode, 0, 0)
    if backend == "onnx":
        from aegroup.deploy.export import export_onnx

        path = export_onnx(ckpt, work / "model.onnx").path
        return Predictor.from_onnx(path, device=device, threads=threads)
    return Predictor.from_checkpoint(ckpt, device=device, threads=threads)


def read_rates(clip: Path, frames: range, pngs: list[Path]) -> tuple[float, float]:
    """Frames/s of decoding the frames in order and of reading their PNG files, one thread each."""
    reader = VideoReader(clip)
    start = time.perf_counter()
    for i in frames:
        reader.read(i)
    decode = len(frames) / (time.perf_counter() - start)
    reader.close()
    start = time.perf_counter()
    for path in pngs:
        read_rgb(path)
    return decode, len(pngs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames predicted per round")
    parser.add_argument("--input", type=int, default=256, help="network input side")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="network threads (0: the backend's default)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = clip_or_synthetic(work)
        reader, frames = open_video(clip, f"0:{args.frames}")
        print(
            f"video: {clip.name}, {reader.width} x {reader.height}, frames 0..{len(frames) - 1}; "
            f"{args.preset} {args.backend} on {args.device} at {args.input}, batch {args.batch}, "
            f"{args.threads} network thread(s); load average {os.getloadavg()[0]:.1f}"
        )
        folder = work / "pngs"
        folder.mkdir()
        pngs = []
        for i in frames:
            pngs.append(folder / f"{i:06d}.png")
            save_png(reader.read(i), pngs[-1])
        reader.close()
        predictor = model(
            work, skeleton(clip), args.preset, args.input, args.backend, args.device, args.threads
        )
        entries = image_list(predictor.schema, folder, None, None)
        run_prediction(predictor, entries[: args.batch], work / "warm.json", args.batch, progress=False)
        video_rates, png_rates = [], []
        for _ in range(args.rounds):
            opened = open_video(clip, f"0:{args.frames}")
            done = run_video_prediction(predictor, *opened, work / "video.json", args.batch, progress=False)
            video_rates.append(done.images_per_s)
            done = run_prediction(predictor, entries, work / "png.json", args.batch, progress=False)
            png_rates.append(done.images_per_s)
        video, png = statistics.median(video_rates), statistics.median(png_rates)
        decode, read = read_rates(clip, frames, pngs)
        print(f"reading alone: decoding {decode:7.1f} frames/s, PNG files {read:7.1f} frames/s")
        ratio = video / png
        print(f"predicting: video {video:7.2f} frames/s, PNG files {png:7.2f} frames/s, ratio {ratio:5.2f}x")
        print(f"(end load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()

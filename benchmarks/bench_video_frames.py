"""Video frame access: VideoReader's keyframe-aware forward decoding vs seeking for every frame.

Labelled frames are read in increasing order when a conversion writes them as images, or a data loader
walks a video. Reading frames a few apart, the reader decodes on within a group of pictures and seeks
only across a keyframe; the baseline, measured in the same run on the same frames, is the rule it
replaced: decode on only to the very next frame, seek for any other. Also times writing frames as PNG,
the rest of a conversion's cost.

Uses the shared 1024 x 1024 fly clip ($AEGROUP_TEST_DATA or ../shared/data/sleap/clip.mp4) when present,
else a synthetic 256 x 256 H.264 video. Usage: python benchmarks/bench_video_frames.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from aegroup.io.frames import save_png
from aegroup.io.video import VideoReader


def clip_or_synthetic(folder: Path) -> Path:
    """The shared fly clip, or a 300-frame synthetic video with a keyframe every 60 frames."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    clip = Path(os.environ.get("AEGROUP_TEST_DATA", default)) / "sleap" / "clip.mp4"
    if clip.is_file():
        return clip
    import av

    path = folder / "synthetic.mp4"
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        stream.codec_context.gop_size = 60
        for i in range(300):
            frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def read_all(path: Path, indices: list[int], seek_unless_next: bool) -> float:
    """Seconds to read `indices` in order (best of 3)."""
    best = float("inf")
    for _ in range(3):
        reader = VideoReader(path)
        start = time.perf_counter()
        for i in indices:
            if seek_unless_next and i != reader._next:
                reader._frames = None  # the baseline rule: the next read seeks
            reader.read(i)
        best = min(best, time.perf_counter() - start)
        reader.close()
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = clip_or_synthetic(Path(tmp))
        reader = VideoReader(path)
        n = min(reader.frames, 300)
        print(f"video: {path.name}, {reader.width} x {reader.height}, {reader.frames} frames")
        for step in (1, 3, 10):
            indices = list(range(0, n, step))
            fast = read_all(path, indices, seek_unless_next=False)
            slow = read_all(path, indices, seek_unless_next=True)
            print(
                f"every {step:2d}th of {n} frames: keyframe-aware {len(indices) / fast:7.1f} frames/s, "
                f"seek unless next {len(indices) / slow:7.1f} frames/s, ratio {slow / fast:5.2f}x"
            )
        frames = [reader.read(i) for i in range(20)]
        start = time.perf_counter()
        for i, pixels in enumerate(frames):
            save_png(pixels, Path(tmp) / f"{i}.png")
        per_frame = (time.perf_counter() - start) / len(frames)
        print(f"PNG writing: {1 / per_frame:.1f} frames/s ({per_frame * 1000:.1f} ms per frame)")
        reader.close()


if __name__ == "__main__":
    main()

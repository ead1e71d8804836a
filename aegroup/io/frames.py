"""Image files for the frames of a `PoseSet`: video frames decoded to PNG, image files located or copied.

Formats that reference image files (COCO, Label Studio) or keep them inside their own folder layout
(DeepLabCut, YOLO) call these when a pose set holds video frames. Video frames are decoded in
(video, frame index) order, so a run of consecutive labelled frames decodes each frame once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from aegroup.errors import AegroupError
from aegroup.io.poses import Frame, PoseSet

PNG_LEVEL = 1
"""zlib level of written PNG frames: fast to write, about as small as the default for camera images."""


def video_file(poses: PoseSet, index: int) -> Path:
    """The file of video `index`; a missing one is a one-line error naming its path and `--video`."""
    path = Path(poses.videos[index].path)
    if not path.is_file():
        raise AegroupError(f"{path}: video file not found (give the video's path with --video)")
    return path


def image_file(poses: PoseSet, frame: Frame) -> Path:
    """The image file of a frame that has one: its `file_name` below the set's `image_dir`."""
    if frame.file_name is None:
        raise AegroupError(f"frame {frame.id}: has no image file")
    return Path(poses.image_dir or ".") / frame.file_name


def save_png(pixels: np.ndarray, path: Path) -> None:
    """Write (H, W, 3) uint8 RGB pixels as PNG, as one grey channel when the three channels are equal."""
    if (
        pixels.ndim == 3
        and (pixels[..., 0] == pixels[..., 1]).all()
        and (pixels[..., 0] == pixels[..., 2]).all()
    ):
        pixels = pixels[..., 0]
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, compress_level=PNG_LEVEL)


def video_frame_pixels(poses: PoseSet, frames: Sequence[Frame]) -> Iterator[tuple[Frame, np.ndarray]]:
    """(frame, (H, W, 3) uint8 RGB) for video frames, in (video, frame index) order."""
    from aegroup.io.video import EmbeddedFrames, VideoReader, open_frames

    todo = sorted((f for f in frames if f.video is not None), key=lambda f: (f.video, f.frame_index))
    reader: VideoReader | EmbeddedFrames | None = None
    current = -1
    try:
        for frame in todo:
            assert frame.video is not None and frame.frame_index is not None
            if frame.video != current:
                if reader is not None:
                    reader.close()
                ref = poses.videos[frame.video]
                path = ref.path if ref.dataset is not None else video_file(poses, frame.video)
                reader = open_frames(path, ref.dataset)
                current = frame.video
            assert reader is not None
            yield frame, reader.read(frame.frame_index)
    finally:
        if reader is not None:
            reader.close()


def video_stems(poses: PoseSet) -> list[str]:
    """A distinct folder-safe name per video: its file stem, numbered when two videos share one."""
    out: list[str] = []
    for ref in poses.videos:
        stem = Path(ref.path).stem or "video"
        name, n = stem, 1
        while name in out:
            n += 1
            name = f"{stem}_{n}"
        out.append(name)
    return out


def write_frame_files(poses: PoseSet, folder: Path, names: dict[int, str], copy_images: bool) -> None:
    """Put the image of every frame (by id) at folder/names[id]: frames without an image file decoded
    from their video to PNG; image files hard-linked or copied when `copy_images` (else left alone)."""
    wanted = [f for f in poses.frames if f.id in names]
    for frame, pixels in video_frame_pixels(poses, [f for f in wanted if f.file_name is None]):
        target = folder / names[frame.id]
        target.parent.mkdir(parents=True, exist_ok=True)
        save_png(pixels, target)
    if copy_images:
        for frame in wanted:
            if frame.file_name is not None:
                link_or_copy(image_file(poses, frame), folder / names[frame.id])


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link `source` to `target`, or copy it where links are not possible (another disk)."""
    if not source.is_file():
        raise AegroupError(f"{source}: image file not found")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def default_frames_dir(dst: Path) -> Path:
    """Where video frames go when `--frames-dir` is not given: `<dst stem>_frames` beside the destination."""
    return dst.parent / f"{dst.stem}_frames"


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to `root` with / separators, or absolute when no relative path joins them."""
    try:
        return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def with_image_files(poses: PoseSet, dst: Path, frames_dir: Path | None) -> PoseSet:
    """A copy in which every frame has an image file named relative to `dst`'s folder.

    Video frames are decoded to `frames_dir/<video stem>/<frame index>.png` (default: `default_frames_dir`)
    and keep their video reference; image frames are renamed relative to `dst`'s folder. The PNGs are
    written to a temporary folder first and moved in only when every frame decoded.
    """
    root = dst.parent
    base = rebased(poses, root)
    video_frames = [f for f in poses.frames if f.file_name is None]
    if not video_frames:
        return base
    folder = Path(frames_dir) if frames_dir is not None else default_frames_dir(dst)
    stems = video_stems(poses)
    names: dict[int, str] = {}
    for f in video_frames:
        if f.video is None or f.frame_index is None:
            raise AegroupError(f"frame {f.id}: has neither an image file nor a video frame")
        names[f.id] = f"{stems[f.video]}/{f.frame_index:06d}.png"
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        write_frame_files(poses, tmp, names, copy_images=False)
        for name in names.values():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    frames = [
        replace(f, file_name=relative_name(folder / names[f.id], root)) if f.id in names else f
        for f in base.frames
    ]
    return replace(base, frames=frames)


def rebased(poses: PoseSet, root: Path) -> PoseSet:
    """A copy whose image file names are relative to `root` (they were relative to `poses.image_dir`)."""
    if poses.image_dir is None or Path(poses.image_dir).resolve() == root.resolve():
        return replace(poses, image_dir=root)
    frames = [
        f if f.file_name is None else replace(f, file_name=relative_name(image_file(poses, f), root))
        for f in poses.frames
    ]
    return replace(poses, frames=frames, image_dir=root)


def find_image_dir(folder: Path, file_names: Sequence[str]) -> Path:
    """The folder image file names are relative to: `folder` itself, or its `images/` subfolder (the layout
    of `aegroup synth` and of most COCO sets) when the first images are found there and not in `folder`."""
    sample = list(file_names[:3])
    for candidate in (folder, folder / "images"):
        if sample and all((candidate / name).is_file() for name in sample):
            return candidate
    return folder

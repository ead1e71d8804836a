"""Where a `PoseDataset` gets its labelled frames: a COCO file with its images, or any `PoseSet`.

A source answers, per frame: its pixels, the instances to learn, and the image region whose loss is
ignored. COCO files keep their own source because only they mark regions to ignore (crowd annotations and
people without labelled joints, by segmentation or box); a `PoseSet` from any other format (SLEAP,
DeepLabCut, ...) has none, and its video frames are decoded from the video itself.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aegroup.data.video_frames import VideoFrames
from aegroup.errors import AegroupError
from aegroup.io.coco import CocoKeypoints, bad_images, build_coco, image_path, open_image, read_rgb
from aegroup.io.poses import Frame, PoseSet
from aegroup.io.video import open_frames
from aegroup.schema import PoseSchema


class LabelledFrames(Protocol):
    """Labelled frames by position: pixels, the instances to learn, and regions whose loss is ignored."""

    schema: PoseSchema
    frame_ids: list[int]
    """Frame (COCO image) id of each position."""

    def __len__(self) -> int: ...

    def pixels(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB pixels of a frame."""
        ...

    def frame_size(self, index: int) -> tuple[int, int]:
        """(width, height) of a frame, without reading its pixels."""
        ...

    def instances(self, index: int) -> np.ndarray:
        """(N, K, 3) float64 x, y, v in image pixels of the instances to learn (absent joints 0, 0, 0)."""
        ...

    def ignore_region(self, index: int, shape: tuple[int, int]) -> np.ndarray | None:
        """(H, W) uint8, 1 where the loss is ignored (unlabelled people, crowds), or None when nowhere."""
        ...

    def ground_truth(self) -> dict[str, Any]:
        """These frames as a COCO keypoints dict (for `aegroup.eval.evaluate`)."""
        ...


def _report_bad(problems: dict[int, str], total: int, source: Path, skip: bool) -> None:
    """Raise the first problem, or (when skipping) warn how many frames are left out."""
    if not problems:
        return
    first = next(iter(problems.values()))
    if not skip:
        more = f" (and {len(problems) - 1} more bad images)" if len(problems) > 1 else ""
        raise AegroupError(first + more)
    warnings.warn(
        f"{source}: skipped {len(problems)} of {total} images that are missing or unreadable "
        f"(first: {first})",
        stacklevel=3,
    )


class CocoFrames:
    """The images of a COCO keypoints file; crowd regions and people without labelled joints are ignored."""

    def __init__(self, coco: CocoKeypoints, image_dir: str | Path, skip_bad_images: bool = False) -> None:
        self.coco = coco
        self.schema = coco.schema
        self.image_dir = Path(image_dir)
        bad = bad_images(coco, self.image_dir, decode=False)
        _report_bad(bad, len(coco.image_ids), coco.path, skip_bad_images)
        self.frame_ids = [i for i in coco.image_ids if i not in bad]
        self.skipped = len(bad)

    def __len__(self) -> int:
        return len(self.frame_ids)

    def pixels(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB pixels of an image."""
        return read_rgb(image_path(self.image_dir, self.coco.image_info(self.frame_ids[index])))

    def frame_size(self, index: int) -> tuple[int, int]:
        """(width, height) of an image as the file's `images` entry gives it."""
        info = self.coco.image_info(self.frame_ids[index])
        return int(info["width"]), int(info["height"])

    def instances(self, index: int) -> np.ndarray:
        """(N, K, 3) keypoints of the image's annotations that are no crowd and have a labelled joint."""
        keypoints, crowd = self.coco.keypoints(self.frame_ids[index])
        return keypoints[~crowd & (keypoints[..., 2] > 0).any(axis=1)]

    def ignore_region(self, index: int, shape: tuple[int, int]) -> np.ndarray | None:
        """Union of the crowd annotations and annotations without labelled joints (segmentation, else box)."""
        image_id = self.frame_ids[index]
        keypoints, crowd = self.coco.keypoints(image_id)
        unlabelled = ~(keypoints[..., 2] > 0).any(axis=1)
        anns = self.coco.annotations(image_id)
        ignored = [a for a, skip in zip(anns, crowd | unlabelled, strict=True) if skip]
        if not ignored:
            return None
        region = np.zeros(shape, dtype=np.uint8)
        for ann in ignored:
            region |= self._region(ann, image_id, shape)
        return region

    def _region(self, ann: dict[str, Any], image_id: int, shape: tuple[int, int]) -> np.ndarray:
        """(h, w) uint8 0/1 pixels of an annotation: its segmentation (polygons or RLE), else its box."""
        if ann.get("segmentation"):
            info = self.coco.image_info(image_id)
            if (info["height"], info["width"]) == shape:
                return self.coco.coco.annToMask(ann).astype(np.uint8)
        out = np.zeros(shape, dtype=np.uint8)
        if ann.get("bbox"):
            x, y, w, h = ann["bbox"]
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            out[y0 : int(np.ceil(y + h)), x0 : int(np.ceil(x + w))] = 1
        return out

    def ground_truth(self) -> dict[str, Any]:
        """The file's images served here, with the chosen categories and their annotations."""
        data = self.coco.coco.dataset
        ids, chosen = set(self.frame_ids), set(self.coco.category_ids)
        return {
            **data,
            "images": [i for i in data["images"] if i["id"] in ids],
            "annotations": [
                a for a in data["annotations"] if a.get("category_id") in chosen and a.get("image_id") in ids
            ],
            "categories": [c for c in data["categories"] if c["id"] in chosen],
        }


class PoseSetFrames:
    """The frames of a `PoseSet` that hold user-labelled instances: image files, or video frames decoded
    from the video on demand (or from a cache, see `preload`).

    Predicted instances are not labels: frames holding only predictions are left out, and predictions
    beside user instances are neither learnt nor masked (as SLEAP trains). A frame with a `video` is read
    from the video, otherwise from `file_name` under `image_dir` (default: the set's, else the file's folder).
    Relative video paths are relative to the folder of `source`, the file the set was read from.
    """

    def __init__(
        self,
        poses: PoseSet,
        source: str | Path,
        image_dir: str | Path | None = None,
        skip_bad_images: bool = False,
    ) -> None:
        self.schema = poses.schema
        self.source = Path(source)
        self.image_dir = Path(image_dir or poses.image_dir or self.source.parent)
        labelled = [f for f in poses if f.user.any()]
        used = sorted({f.video for f in labelled if f.video is not None})
        self.videos = VideoFrames(
            {v: open_frames(self._video_path(poses, v), poses.videos[v].dataset) for v in used}
        )
        bad = {f.id: problem for f in labelled if (problem := self._problem(f)) is not None}
        _report_bad(bad, len(labelled), self.source, skip_bad_images)
        self.frames = [_learnable(f) for f in labelled if f.id not in bad]
        self.frame_ids = [f.id for f in self.frames]
        self.skipped = len(bad)
        self.video_names = {v: ref.path for v, ref in enumerate(poses.videos)}

    def _video_path(self, poses: PoseSet, video: int) -> Path:
        path = Path(poses.videos[video].path)
        path = path if path.is_absolute() else self.source.parent / path
        if not path.is_file():
            raise AegroupError(
                f"{path}: video file not found (named by {self.source}; give its location as 'video')"
            )
        return path

    def _problem(self, frame: Frame) -> str | None:
        """Why a frame cannot be read (missing image, frame past the video's end, size mismatch), or None."""
        if frame.video is not None:
            path, length = self.videos.path(frame.video), self.videos.length(frame.video)
            if frame.frame_index is None or not 0 <= frame.frame_index < length:
                return (
                    f"{self.source}: frame {frame.id}: frame index {frame.frame_index} is outside "
                    f"{path} ({length} frames)"
                )
            size = self.videos.size(frame.video)
        else:
            path = self.image_dir / str(frame.file_name)
            try:
                with open_image(path, decode=False) as image:
                    size = image.size
            except AegroupError as err:
                return str(err)
        if size != (frame.width, frame.height):
            return (
                f"{path}: frames are {size[0]}x{size[1]} but frame {frame.id} in {self.source} has fields "
                f"'width' x 'height' = {frame.width}x{frame.height}"
            )
        return None

    def __len__(self) -> int:
        return len(self.frames)

    def pixels(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB pixels of a frame, decoded from its video or read from its image file."""
        frame = self.frames[index]
        if frame.video is not None:
            return self.videos.read(frame.video, int(frame.frame_index))  # type: ignore[arg-type]
        return read_rgb(self.image_dir / str(frame.file_name))

    def frame_size(self, index: int) -> tuple[int, int]:
        """(width, height) of a frame (checked against its video or image file when the source opened)."""
        frame = self.frames[index]
        return int(frame.width), int(frame.height)

    def instances(self, index: int) -> np.ndarray:
        """(N, K, 3) user instances with a labelled joint; absent joints 0, 0, 0."""
        return self.frames[index].keypoints

    def ignore_region(self, index: int, shape: tuple[int, int]) -> np.ndarray | None:
        """None: pose files other than COCO mark no regions to ignore."""
        del index, shape
        return None

    def restrict(self, start: int, stop: int | None) -> None:
        """Keep the video frames whose frame index lies in [start, stop) (stop None: to the video's end).

        One-line `AegroupError` (without a file prefix: the caller names its field) when the frames are not
        of one video, the range passes the video's end, or it holds no labelled frame.
        """
        videos = {f.video for f in self.frames}
        if None in videos:
            raise AegroupError(f"{self.source} holds image files; a frame range needs video frames")
        if len(videos) != 1:
            raise AegroupError(f"{self.source} labels {len(videos)} videos; a frame range needs one video")
        video = int(next(iter(videos)))  # type: ignore[arg-type]
        length = self.videos.length(video)
        end = length if stop is None else stop
        if start < 0 or end > length or start >= end:
            raise AegroupError(
                f"[{start}, {stop}) is not a range within {self.videos.path(video)} (0 to {length} frames)"
            )
        keep = [f for f in self.frames if start <= int(f.frame_index) < end]  # type: ignore[arg-type]
        if not keep:
            raise AegroupError(
                f"[{start}, {stop}) holds none of the {len(self.frames)} labelled frames of {self.source}"
            )
        self.frames = keep
        self.frame_ids = [f.id for f in keep]

    @property
    def decoded_bytes(self) -> int:
        """Memory that preloading every video frame would take at most (3 bytes a pixel)."""
        return sum(3 * f.width * f.height for f in self.frames if f.video is not None)

    def preload(self) -> None:
        """Decode every video frame once now (in file order) and keep it in memory for later reads."""
        self.videos.preload((int(f.video), int(f.frame_index)) for f in self.frames if f.video is not None)  # type: ignore[arg-type]

    def ground_truth(self) -> dict[str, Any]:
        """The frames and their user instances as a COCO dict (video frames named `VIDEO#INDEX`)."""
        names = self.video_names
        images = [
            {
                "id": f.id,
                "file_name": f.file_name if f.video is None else f"{names[f.video]}#{f.frame_index}",
                "width": f.width,
                "height": f.height,
            }
            for f in self.frames
        ]
        return build_coco(self.schema, images, {f.id: f.keypoints for f in self.frames})


def _learnable(frame: Frame) -> Frame:
    """The frame with only its user instances that have a labelled joint, absent joints as 0, 0, 0."""
    kept = frame.select(frame.user & frame.present().any(axis=1))
    kept.keypoints = np.nan_to_num(kept.keypoints, nan=0.0)
    return kept

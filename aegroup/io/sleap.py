"""SLEAP labels files (.slp) to and from a `PoseSet`, through sleap-io (extra `formats`).

Kept both ways: the skeleton (nodes, edges, symmetries as flip pairs), user instances and predicted
instances (instance score and point scores), tracks by name, and the videos frames belong to.
SLEAP's point flags map to COCO visibility: visible -> 2; placed but marked not visible -> 1 (the point
keeps its coordinates); NaN -> 0. Frames of an image-sequence video become image frames. A .pkg.slp's
embedded frames are read through its source video when that is found, else from the embedded images
(`VideoRef.dataset`). A video path that does not exist is looked for relative to the .slp's folder and
beside it, as SLEAP does; `--video` replaces it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from aegroup.errors import AegroupError, validation_message
from aegroup.io.coco import open_image
from aegroup.io.frames import image_file
from aegroup.io.poses import ABSENT, OCCLUDED, VISIBLE, Frame, PoseSet, VideoRef, repoint_videos, stored_path
from aegroup.optional import require
from aegroup.schema import PoseSchema, infer_flip_pairs


def load_labels(path: Path) -> Any:
    """The sleap-io `Labels` of a .slp file (videos not opened); unreadable files are one-line errors."""
    sio = require("sleap_io", "reading SLEAP files")
    if not path.is_file():
        raise AegroupError(f"{path}: file not found")
    try:
        return sio.load_slp(str(path), open_videos=False)
    except Exception as err:  # h5py, sleap-io and json raise many kinds for a damaged file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{path}: not a readable SLEAP file (truncated or corrupt? {first})") from None


def _unique_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[frozenset[str]] = set()
    out = []
    for a, b in pairs:
        key = frozenset((a, b))
        if a != b and key not in seen:
            seen.add(key)
            out.append((a, b))
    return out


def schema_from_skeleton(skeleton: Any, source: str | Path = "SLEAP skeleton") -> PoseSchema:
    """A `PoseSchema` from a sleap-io `Skeleton`: nodes, edges, and symmetries as flip pairs (inferred
    from left/right names when the skeleton stores none)."""
    joints = [str(n) for n in skeleton.node_names]
    edges = _unique_pairs([(str(a), str(b)) for a, b in skeleton.edge_names])
    stored = _unique_pairs([(str(a), str(b)) for a, b in skeleton.symmetry_names])
    flips: list[tuple[str, str]] = []
    paired: set[str] = set()
    for a, b in stored:  # a node in two stored symmetries keeps the first (a schema pairs a joint once)
        if a not in paired and b not in paired:
            flips.append((a, b))
            paired.update((a, b))
    try:
        return PoseSchema(
            name=str(skeleton.name or "skeleton"),
            joints=joints,
            edges=edges,
            flip_pairs=flips if stored else infer_flip_pairs(joints),
        )
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None


def read_schema(path: Path) -> PoseSchema:
    """The skeleton of a .slp file as a `PoseSchema` (its first skeleton)."""
    labels = load_labels(path)
    if not labels.skeletons:
        raise AegroupError(f"{path}: field 'skeletons': the file has no skeleton")
    return schema_from_skeleton(labels.skeletons[0], path)


def _joint_order(
    file_schema: PoseSchema, schema: PoseSchema | None, path: Path
) -> tuple[PoseSchema, list[int]]:
    if schema is None:
        return file_schema, list(range(file_schema.num_joints))
    if sorted(schema.joints) != sorted(file_schema.joints):
        raise AegroupError(
            f"{path}: field 'skeleton': nodes {file_schema.joints} differ from schema '{schema.name}' "
            f"joints {schema.joints}"
        )
    return schema, [file_schema.joints.index(j) for j in schema.joints]


def _with_shape(ref: VideoRef, meta: dict[str, Any], frames: bool = True) -> VideoRef:
    """The video with the width, height (and frame count) a stored shape [frames, height, width, channels]
    gives, when stored."""
    shape = meta.get("shape")
    if shape is None or len(shape) != 4:
        return ref
    return replace(ref, width=int(shape[2]), height=int(shape[1]), frames=int(shape[0]) if frames else None)


def _video_ref(video: Any, path: Path) -> VideoRef:
    """Where a SLEAP video's frames are: its file, or for frames embedded in a .pkg.slp the source video
    when it is found, else the embedded images."""
    meta = video.backend_metadata
    if meta.get("dataset"):
        source = video.source_video
        if source is not None and Path(_media_path(source, path)).is_file():
            return _with_shape(VideoRef(_media_path(source, path)), source.backend_metadata)
        holder = str(path) if meta.get("filename") in (None, ".") else _media_path(video, path)
        return _with_shape(VideoRef(holder, dataset=str(meta["dataset"])), meta, frames=False)
    return _with_shape(VideoRef(_media_path(video, path)), meta)


def _probed(ref: VideoRef, path: Path) -> VideoRef:
    """The video with its frame size read from the file (or embedded images) when the .slp stores none."""
    if ref.width is not None and ref.height is not None:
        return ref
    from aegroup.io.video import EmbeddedFrames, VideoReader

    if ref.dataset is not None:
        embedded = EmbeddedFrames(ref.path, ref.dataset)
        return replace(ref, width=embedded.width, height=embedded.height)

    if not Path(ref.path).is_file():
        raise AegroupError(
            f"{ref.path}: video of {path.name} not found and its frame size is not stored "
            "(give the video's path with --video)"
        )
    reader = VideoReader(ref.path)
    return replace(ref, width=reader.width, height=reader.height, frames=reader.frames)


def _media_path(video: Any, path: Path) -> str:
    """A video's stored path, resolved as SLEAP does: as stored, else relative to the .slp's folder,
    else the same file name beside the .slp."""
    stored = str(video.backend_metadata.get("filename") or video.filename)
    for candidate in (Path(stored), path.parent / stored, path.parent / Path(stored).name):
        if candidate.is_file():
            return str(candidate)
    return stored_path(stored, path.parent)


def _point_visibility(points: Any) -> np.ndarray:
    finite = np.isfinite(points["xy"]).all(axis=1)
    return np.where(finite & points["visible"], VISIBLE, np.where(finite, OCCLUDED, ABSENT))


def read_poses(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """A .slp file as a `PoseSet` (see the module docstring); `video` re-points a moved video."""
    labels = load_labels(path)
    if not labels.skeletons:
        raise AegroupError(f"{path}: field 'skeletons': the file has no skeleton")
    skeleton = labels.skeletons[0]
    schema, order = _joint_order(schema_from_skeleton(skeleton, path), schema, path)
    k = schema.num_joints
    image_lists: dict[int, list[str]] = {}
    media: dict[int, int] = {}
    refs: list[VideoRef] = []
    for i, vid in enumerate(labels.videos):
        if isinstance(vid.filename, list):
            image_lists[i] = [str(p) for p in vid.filename]
        else:
            media[i] = len(refs)
            refs.append(_video_ref(vid, path))
    refs = repoint_videos(refs, video, path)
    track_index = {id(t): i for i, t in enumerate(labels.tracks)}
    video_index = {id(vid): i for i, vid in enumerate(labels.videos)}
    frames = []
    for n, lf in enumerate(labels.labeled_frames):
        v = video_index[id(lf.video)]
        rows = []
        for inst in lf.instances:
            if inst.skeleton is not skeleton:
                raise AegroupError(
                    f"{path}: frame {lf.frame_idx}: field 'skeleton': instances of a second skeleton"
                )
            pts = inst.points
            predicted = "score" in (pts.dtype.names or ())
            rows.append(
                (
                    np.column_stack([pts["xy"], _point_visibility(pts)])[order],
                    pts["score"][order] if predicted else np.full(k, np.nan),
                    float(inst.score) if predicted and inst.score is not None else np.nan,
                    track_index.get(id(inst.track), -1),
                    not predicted,
                )
            )
        common: dict[str, Any]
        if v in image_lists:
            file_name = image_lists[v][lf.frame_idx]
            with open_image(path.parent / file_name, decode=False) as image:
                width, height = image.size
            common = {"file_name": file_name}
        else:
            refs[media[v]] = ref = _probed(refs[media[v]], path)
            width, height = int(ref.width or 0), int(ref.height or 0)
            common = {"video": media[v], "frame_index": int(lf.frame_idx)}
        frames.append(
            Frame.build(
                n + 1,
                width,
                height,
                np.array([r[0] for r in rows]).reshape(-1, k, 3),
                scores=[r[1] for r in rows],
                instance_score=[r[2] for r in rows],
                track=[r[3] for r in rows],
                user=[r[4] for r in rows],
                **common,
            )
        )
    tracks = [str(t.name) for t in labels.tracks]
    return PoseSet(schema, frames, tracks=tracks, videos=refs, image_dir=path.parent)


def _skeleton(sio: Any, schema: PoseSchema) -> Any:
    return sio.Skeleton(
        nodes=list(schema.joints),
        edges=[list(e) for e in schema.edges],
        symmetries=[list(p) for p in schema.flip_pairs],
        name=schema.name,
    )


def _instance(sio: Any, skeleton: Any, frame: Frame, n: int, track: Any) -> Any:
    kp = frame.keypoints[n]
    v = kp[:, 2]
    # Occluded joints keep their place and are marked not visible, as SLEAP's GUI does.
    visible, placed = v == VISIBLE, v > ABSENT
    if frame.user[n]:
        points = np.column_stack([kp[:, 0], kp[:, 1], visible, placed])
        return sio.Instance.from_numpy(points, skeleton=skeleton, track=track)
    points = np.column_stack([kp[:, 0], kp[:, 1], frame.scores[n], visible, placed])
    score = float(frame.instance_score[n])
    return sio.PredictedInstance.from_numpy(points, skeleton=skeleton, score=score, track=track)


def _video_meta(ref: VideoRef) -> dict[str, Any]:
    """What an open sleap-io backend records about a video: its file (or embedded dataset) and shape."""
    path = str(Path(ref.path).resolve())
    meta: dict[str, Any] = {"filename": path}
    if ref.dataset is not None:
        meta.update(
            type="HDF5Video", dataset=ref.dataset, input_format="channels_last", has_embedded_images=True
        )
    if ref.frames and ref.width and ref.height:
        meta["shape"] = [ref.frames, ref.height, ref.width, 3]
    return meta


def write_poses(poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path:
    """Write a `PoseSet` as a .slp file (atomically); image frames become one image-sequence video."""
    del frames_dir  # a .slp refers to videos and images where they are
    sio = require("sleap_io", "writing SLEAP files")
    skeleton = _skeleton(sio, poses.schema)
    tracks = [sio.Track(name=name) for name in poses.tracks]
    metas = [_video_meta(ref) for ref in poses.videos]
    videos = [sio.Video(filename=m["filename"], backend_metadata=m, open_backend=False) for m in metas]
    images = [f for f in poses.frames if f.video is None]
    if images:
        files = [str(image_file(poses, f).resolve()) for f in images]
        # The backend stays closed: its metadata is what an open image-sequence backend would record.
        meta = {"type": "ImageVideo", "filename": files[0], "filenames": files}
        meta.update(shape=[len(files), images[0].height, images[0].width, 3], height_=images[0].height)
        meta.update(width_=images[0].width, channels_=3)
        image_video = sio.Video(filename=files, backend_metadata=meta, open_backend=False)
        videos.append(image_video)
    image_index = {f.id: i for i, f in enumerate(images)}
    labeled = []
    for f in poses.frames:
        instances = [
            _instance(sio, skeleton, f, n, tracks[f.track[n]] if f.track[n] >= 0 else None)
            for n in range(f.num_instances)
        ]
        if f.video is not None:
            lf = sio.LabeledFrame(
                video=videos[f.video], frame_idx=int(f.frame_index or 0), instances=instances
            )
        else:
            lf = sio.LabeledFrame(video=image_video, frame_idx=image_index[f.id], instances=instances)
        labeled.append(lf)
    labels = sio.Labels(labeled_frames=labeled, videos=videos, skeletons=[skeleton], tracks=tracks)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".slp", dir=path.parent)
    os.close(fd)
    try:
        sio.save_slp(labels, tmp, embed=False, verbose=False)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path

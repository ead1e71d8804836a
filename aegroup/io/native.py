"""aegroup's own files as `PoseSet`s: results files (read and write) and labelling projects (read).

A results file holds predictions (third keypoint value = score, 0 = not found) and, with the optional
fields `aegroup.io.results` describes, user instances, tracks and video frames. A project's predicted
instances are predictions and its corrected or added ones user instances, with their tracks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.frames import find_image_dir, rebased, relative_name, video_stems
from aegroup.io.poses import ABSENT, VISIBLE, Frame, PoseSet, VideoRef, repoint_videos, stored_path
from aegroup.io.provenance import InstanceStatus
from aegroup.io.results import ResultAnnotation, ResultsFile, build_results, load_results, save_results
from aegroup.schema import PoseSchema


def _check_joints(file_schema: PoseSchema, schema: PoseSchema | None, path: Path) -> PoseSchema:
    if schema is not None and schema.joints != file_schema.joints:
        raise AegroupError(
            f"{path}: field 'schema.joints' {file_schema.joints} differ from schema '{schema.name}' "
            f"joints {schema.joints}"
        )
    return schema or file_schema


def _annotation_rows(ann: ResultAnnotation, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(K, 3) x, y, v, (K,) keypoint scores and the instance score of one result annotation."""
    values = np.asarray(ann.keypoints, np.float64).reshape(k, 3)
    if ann.user:
        return values, np.full(k, np.nan), np.nan
    found = values[:, 2] > 0
    kp = np.column_stack([values[:, :2], np.where(found, VISIBLE, ABSENT)])
    return kp, np.where(found, values[:, 2], np.nan), float(ann.score)


def read_results(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """An aegroup results file as a `PoseSet` (tags kept; images with `video` become video frames)."""
    results = load_results(path)
    schema = _check_joints(results.pose_schema, schema, path)
    k = schema.num_joints
    by_image: dict[int, list[ResultAnnotation]] = {im.id: [] for im in results.images}
    for ann in results.annotations:
        by_image[ann.image_id].append(ann)
    video_ids: dict[str, int] = {}
    frames = []
    for image in results.images:
        anns = by_image[image.id]
        rows = [_annotation_rows(a, k) for a in anns]
        dims = {len(a.tags[0]) for a in anns if a.tags}
        tags = None
        if anns and len(dims) == 1 and all(a.tags for a in anns):
            tags = np.array([a.tags for a in anns], np.float64)
        on_video = image.video is not None
        frames.append(
            Frame.build(
                image.id,
                image.width,
                image.height,
                np.array([r[0] for r in rows]).reshape(-1, k, 3),
                scores=[r[1] for r in rows],
                instance_score=[r[2] for r in rows],
                track=[-1 if a.track_id is None else a.track_id for a in anns],
                user=[bool(a.user) for a in anns],
                file_name=None if on_video else image.file_name,
                video=video_ids.setdefault(str(image.video), len(video_ids)) if on_video else None,
                frame_index=image.frame_index if on_video else None,
                tags=tags,
            )
        )
    videos = repoint_videos([VideoRef(stored_path(p, path.parent)) for p in video_ids], video, path)
    image_dir = find_image_dir(path.parent, [f.file_name for f in frames if f.file_name])
    return PoseSet(schema, frames, tracks=list(results.tracks or []), videos=videos, image_dir=image_dir)


def poses_to_results(poses: PoseSet, root: Path) -> ResultsFile:
    """A results file of a `PoseSet`: predictions as x, y, score (absent joints 0, 0, 0; a present joint
    of unknown score 1); user instances flagged `user` with x, y, v; file and video paths relative to
    `root`."""
    stems = video_stems(poses)
    images, annotations = [], []
    for f in poses.frames:
        image = {"id": f.id, "width": f.width, "height": f.height, "file_name": f.file_name}
        if f.video is not None:
            image.update(
                video=relative_name(Path(poses.videos[f.video].path), root),
                frame_index=f.frame_index,
                file_name=f.file_name or f"{stems[f.video]}/{f.frame_index:06d}.png",
            )
        images.append(image)
        for n in range(f.num_instances):
            kp = np.nan_to_num(f.keypoints[n], nan=0.0)
            present = kp[:, 2] > 0
            if not f.user[n]:
                kp[:, 2] = np.where(present, np.nan_to_num(f.scores[n], nan=1.0), 0.0)
            score = f.instance_score[n]
            ann = {
                "image_id": f.id,
                "keypoints": kp.ravel().tolist(),
                "score": float(score) if np.isfinite(score) else 1.0,
            }
            if f.tags is not None:
                ann["tags"] = f.tags[n].tolist()
            if f.track[n] >= 0:
                ann["track_id"] = int(f.track[n])
            if f.user[n]:
                ann["user"] = True
            annotations.append(ann)
    return build_results(poses.schema, images, annotations, tracks=list(poses.tracks) or None)


def write_results(poses: PoseSet, path: Path, *, frames_dir: Path | None) -> Path:
    """Write a `PoseSet` as an aegroup results file (image names relative to its folder)."""
    del frames_dir  # a results file names video frames by video and index
    return save_results(path, poses_to_results(rebased(poses, path.parent), path.parent))


class ImageFields(Protocol):
    """What `reviewed_frame` reads of an image: a project image or the labeller's image record."""

    id: int
    width: int
    height: int
    file_name: str | None
    video: int | None
    frame_index: int | None


class InstanceArrays(Protocol):
    """What `reviewed_frame` reads of an image's instances (array-likes, N instances of K joints)."""

    keypoints: Any
    scores: Any
    instance_score: Any
    track: Any
    status: Any
    tags: Any


def reviewed_frame(image: ImageFields, instances: InstanceArrays, with_tags: bool) -> Frame:
    """A labelled image as a `Frame`: instances a person corrected or added are user instances (scores
    dropped), predicted ones keep their scores; tags only `with_tags`."""
    user = np.asarray(instances.status) != InstanceStatus.PREDICTED
    return Frame.build(
        image.id,
        image.width,
        image.height,
        instances.keypoints,
        scores=np.where(user[:, None], np.nan, instances.scores),
        instance_score=np.where(user, np.nan, instances.instance_score),
        track=instances.track,
        user=user,
        file_name=image.file_name,
        video=image.video,
        frame_index=image.frame_index,
        tags=instances.tags if with_tags else None,
    )


def read_project(path: Path, *, schema: PoseSchema | None, video: Path | None) -> PoseSet:
    """An aegroup labelling project (.aeproj) as a `PoseSet`: its image files and video frames, instances,
    scores, tags and tracks; `video` re-points a moved video."""
    from aegroup.io.project import load_project

    project = load_project(path)
    schema = _check_joints(project.pose_schema, schema, path)
    frames = [reviewed_frame(image, image.instances, project.tag_dim > 0) for image in project.images]
    refs = [
        VideoRef(stored_path(v.path, path.parent), v.width, v.height, v.frames, v.dataset)
        for v in project.videos
    ]
    image_dir = Path(project.image_dir)
    return PoseSet(
        schema,
        frames,
        tracks=list(project.tracks),
        videos=repoint_videos(refs, video, path),
        image_dir=image_dir if image_dir.is_absolute() else path.parent / image_dir,
    )

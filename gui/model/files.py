"""Open, save, autosave, recover and export documents (plain Python; the app calls these)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_write_text
from aegroup.io.coco import build_coco, open_image, save_coco
from aegroup.io.formats import load_poses, save_poses
from aegroup.io.frames import find_image_dir
from aegroup.io.poses import VideoRef, repoint_videos, stored_path
from aegroup.io.project import (
    Autosave,
    ProjectVideo,
    autosave_path,
    load_autosave,
    load_project,
    save_autosave,
    save_project,
)
from aegroup.io.results import load_results
from aegroup.io.yolo import IMAGE_SUFFIXES
from aegroup.schema import PoseSchema, load_schema
from aegroup_gui.model.convert import (
    annotations_from_results,
    candidate_arrays,
    document_from_poses,
    document_from_project,
    group_by_image,
    image_from_project,
    image_to_project,
    poses_from_document,
    project_from_document,
)
from aegroup_gui.model.document import Annotations, Document, ImageRecord


def open_results(
    path: Path,
    image_dir: Path | None = None,
    schema: str | PoseSchema | None = None,
    video: Path | None = None,
) -> Document:
    """A document from a results file of `aegroup predict` (tags, candidates, tracks and video frames
    when present); `video` re-points the video a results file of a video names."""
    results = load_results(path)
    file_schema = results.pose_schema
    if schema is not None:
        file_schema = _compatible(load_schema(schema), file_schema, path)
    tag_dims = {len(t) for a in results.annotations if a.tags for t in a.tags}
    tag_dim = tag_dims.pop() if len(tag_dims) == 1 else 0
    anns = group_by_image([a.model_dump() for a in results.annotations])
    cands = {int(c.image_id): candidate_arrays(c.model_dump()) for c in results.candidates or []}
    video_ids: dict[str, int] = {}
    sizes: dict[int, tuple[int, int]] = {}
    images = []
    for info in results.images:
        size = max(info.width, info.height)
        cand = cands.get(info.id)
        ann = annotations_from_results(anns.get(info.id, []), file_schema, tag_dim, cand, size)
        record = ImageRecord(info.id, info.file_name, info.width, info.height, ann, False, cand)
        if info.video is not None:
            record.video = video_ids.setdefault(info.video, len(video_ids))
            record.frame_index, record.file_name = info.frame_index or 0, None
            sizes.setdefault(record.video, (info.width, info.height))
        images.append(record)
    refs = [VideoRef(stored_path(v, path.parent), *sizes[i]) for i, v in enumerate(video_ids)]
    if video is not None and not refs:
        raise AegroupError(f"{path}: --video given, but the results name no video frames")
    refs = repoint_videos(refs, video, path)
    if image_dir is None:
        image_dir = find_image_dir(path.parent, [im.file_name for im in images if im.file_name])
    doc = _document(file_schema, images, tag_dim, image_dir, path)
    doc.videos, doc.tracks = refs, list(results.tracks or [])
    return doc


def open_coco(path: Path, image_dir: Path | None = None, schema: str | PoseSchema | None = None) -> Document:
    """A document from a COCO keypoints file (crowd regions and empty annotations skipped; annotations
    with a `score` are predictions, the others a person's labels; tracks and video frames kept)."""
    return open_poses(path, schema, image_dir=image_dir)


def open_poses(
    path: Path,
    schema: str | PoseSchema | None = None,
    video: Path | None = None,
    image_dir: Path | None = None,
) -> Document:
    """A document from any pose file or folder `aegroup.io.formats.load_poses` reads (SLEAP, DeepLabCut,
    Label Studio, YOLO, COCO, results of a video): user instances as corrected, predictions as predicted."""
    poses = load_poses(path, schema=schema, video=video, images=image_dir)
    if not poses.frames and not poses.videos:
        raise AegroupError(f"{path}: no labelled frames and no video to label")
    return document_from_poses(poses, path)


def open_images(folder: Path, schema: str | PoseSchema) -> Document:
    """A document of every image file in a folder (sorted by name), nothing labelled yet."""
    if not folder.is_dir():
        raise AegroupError(f"{folder}: image folder not found")
    pose_schema = load_schema(schema)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise AegroupError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    empty = Annotations.empty(pose_schema.num_joints, 0)
    images = []
    for i, file in enumerate(files, start=1):
        with open_image(file, decode=False) as image:
            width, height = image.size
        images.append(ImageRecord(i, file.name, width, height, empty))
    return Document(pose_schema, images, 0, image_dir=folder.resolve(), source=str(folder))


def open_video(video: Path, schema: str | PoseSchema) -> Document:
    """A document of a video, nothing labelled yet (frames are decoded when shown)."""
    from aegroup.io.video import VideoReader

    reader = VideoReader(video)
    ref = VideoRef(str(video.resolve()), reader.width, reader.height, reader.frames)
    return Document(load_schema(schema), [], 0, source=str(video), videos=[ref])


def complete_videos(doc: Document) -> list[str]:
    """Fill in the frame count and size of the document's videos where unknown, from the video files;
    returns the paths of videos not found (their frames show as grey placeholders)."""
    from aegroup.io.video import VideoReader

    missing = []
    for i, ref in enumerate(doc.videos):
        if ref.dataset is None and not Path(ref.path).is_file():
            missing.append(ref.path)
            last = max((im.frame_index or 0 for im in doc.images if im.video == i), default=0)
            doc.videos[i] = replace(ref, frames=ref.frames or last + 1)
        elif ref.frames is None or ref.width is None or ref.height is None:
            if ref.dataset is not None:  # embedded frames: only the labelled ones exist
                last = max((im.frame_index or 0 for im in doc.images if im.video == i), default=0)
                doc.videos[i] = replace(ref, frames=ref.frames or last + 1)
                continue
            reader = VideoReader(ref.path)
            doc.videos[i] = replace(ref, width=reader.width, height=reader.height, frames=reader.frames)
    return missing


def _compatible(wanted: PoseSchema, found: PoseSchema, path: Path) -> PoseSchema:
    if list(wanted.joints) != list(found.joints):
        raise AegroupError(
            f"{path}: field 'schema.joints' {list(found.joints)} differs from --schema '{wanted.name}' "
            f"joints {list(wanted.joints)}"
        )
    return wanted


def _document(
    schema: PoseSchema, images: list[ImageRecord], tag_dim: int, image_dir: Path, src: Path
) -> Document:
    if not images:
        raise AegroupError(f"{src}: field 'images': no images to label")
    return Document(schema, images, tag_dim, image_dir=Path(image_dir).resolve(), source=str(src))


def open_project(path: Path) -> Document:
    """A document from a project file saved before."""
    return document_from_project(load_project(path), Path(path).resolve())


def save_document(doc: Document, project_path: Path) -> Path:
    """Save atomically, then drop the autosave sidecar (the project now holds everything)."""
    project_path = Path(project_path).resolve()
    save_project(project_path, project_from_document(doc, project_path))
    doc.mark_saved()
    autosave_path(project_path).unlink(missing_ok=True)
    return project_path


DumpCache = dict[int, tuple[tuple[object, ...], str]]
"""Per image index: the objects its sidecar JSON was made from, and that JSON (reused while they stay)."""


def write_autosave(doc: Document, project_path: Path, cache: DumpCache | None = None) -> Path | None:
    """Write the images changed since the last save to the sidecar (atomic); None when nothing changed.

    The sidecar is rewritten on every image switch; with `cache`, only images changed since their last
    write are serialised again (each costs ~0.5 ms: 100 ms per switch once 200 images are edited).
    """
    if not doc.changed:
        return None
    changed = sorted(doc.changed)
    empty = Autosave(project=Path(project_path).name, tracks=list(doc.tracks), images=[])
    head, _, tail = empty.model_dump_json().rpartition("[]")
    if cache is None or tail != "}":  # the images must close the object for their JSON to be spliced in
        return save_autosave(project_path, [image_to_project(doc.images[i]) for i in changed], doc.tracks)
    parts = ",".join(_image_json(doc.images[i], i, cache) for i in changed)
    return atomic_write_text(autosave_path(project_path), f"{head}[{parts}]}}")


def _image_json(record: ImageRecord, index: int, cache: DumpCache) -> str:
    """An image's sidecar JSON, serialised again only if the record changed since it was cached."""
    source = (record.annotations, record.reviewed, record.candidates, record.file_name)
    hit = cache.get(index)
    if hit is None or any(a is not b for a, b in zip(hit[0], source, strict=True)):
        hit = cache[index] = (source, image_to_project(record).model_dump_json())
    return hit[1]


def autosave_is_newer(project_path: Path) -> bool:
    """Whether a sidecar exists that is newer than the project file (or the project was never saved)."""
    sidecar = autosave_path(project_path)
    if not sidecar.is_file():
        return False
    return not project_path.is_file() or sidecar.stat().st_mtime >= project_path.stat().st_mtime


def recover_autosave(doc: Document, project_path: Path) -> int:
    """Replace images by their autosaved versions (matched by id and file name, or by video frame) and add
    the autosaved frames the document lacks (labelled from scratch since the last save); returns how many
    images were restored. Tracks created since the last save come back with them."""
    videos = [ProjectVideo(path=v.path, frames=v.frames) for v in doc.videos]
    data = load_autosave(project_path, doc.schema.num_joints, doc.tag_dim, videos)
    if data is None:
        return 0
    if len(data.tracks) > len(doc.tracks):
        doc.set_tracks(data.tracks)
    index = {(im.id, im.file_name): i for i, im in enumerate(doc.images) if im.video is None}
    restored = 0
    for saved in data.images:
        record = image_from_project(saved)
        if record.frame_key is not None:
            i = doc.frame_image(*record.frame_key)
            if i is None:
                if any(im.id == record.id for im in doc.images):
                    record.id = max(im.id for im in doc.images) + 1
                i = doc.add_image(record)
        else:
            i = index.get((saved.id, saved.file_name))
        if i is None:
            continue
        doc.set_annotations(i, record.annotations)
        doc.set_reviewed(i, record.reviewed)
        restored += 1
    return restored


def export_coco(doc: Document, path: Path, reviewed_only: bool = False) -> tuple[Path, int, int]:
    """Write a COCO keypoints training file; returns (path, images written, instances written).

    Video frames are written as PNG images to `<path stem>_frames/` beside it (`aegroup.io.coco`).
    """
    chosen = [doc.images[i] for i in doc.kept() if doc.images[i].reviewed or not reviewed_only]
    every = keypoints_of(doc)
    keypoints = {im.id: every[im.id] for im in chosen}
    count = sum(len(v) for v in keypoints.values())
    if any(im.video is not None for im in chosen):
        poses = poses_from_document(doc)
        ids = {im.id for im in chosen}
        poses = replace(
            poses, frames=[f.select(f.present().any(axis=1)) for f in poses.frames if f.id in ids]
        )
        return save_poses(poses, path, to="coco"), len(chosen), count
    infos = [
        {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height} for im in chosen
    ]
    coco = build_coco(doc.schema, infos, keypoints)
    return save_coco(path, coco), len(chosen), count


def export_poses(doc: Document, path: Path, to: str | None = None) -> tuple[Path, int, int]:
    """Write the document in any writable pose format (`to`, else by suffix: .slp SLEAP, .json COCO),
    atomically: corrected and added instances as user instances, predictions with their scores, tracks
    kept; returns (path, frames written, instances written)."""
    poses = poses_from_document(doc)
    return save_poses(poses, path, to=to), len(poses.frames), poses.num_instances


def default_project_path(source: Path) -> Path:
    """Where a project started from `source` is saved when no --project is given: beside it, `.aeproj`
    in place of a file's suffix (`clip.slp`, `clip.mp4` -> `clip.aeproj`), after a folder's name."""
    source = Path(source)
    if source.is_dir():
        return source.parent / f"{source.name}.aeproj"
    return source.with_suffix(".aeproj")


def keypoints_of(doc: Document) -> dict[int, np.ndarray]:
    """Image id -> (N, K, 3) x, y, v of the instances with at least one joint (what export writes)."""
    out = {}
    for i in doc.kept():
        ann = doc.images[i].annotations
        out[doc.images[i].id] = ann.keypoints[ann.present().any(axis=1)]
    return out

"""Open, save, autosave, recover and export documents (plain Python; the app calls these)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_write_text
from aegroup.io.coco import build_coco, first_keypoint_category, load_coco, read_coco_json, save_coco
from aegroup.io.project import (
    Autosave,
    autosave_path,
    load_autosave,
    load_project,
    save_autosave,
    save_project,
)
from aegroup.io.results import load_results
from aegroup.schema import PoseSchema, load_schema
from aegroup_gui.model.convert import (
    annotations_from_coco,
    annotations_from_results,
    candidate_arrays,
    document_from_project,
    group_by_image,
    image_from_project,
    image_to_project,
    project_from_document,
)
from aegroup_gui.model.document import Annotations, Document, ImageRecord


def open_results(path: Path, image_dir: Path, schema: str | PoseSchema | None = None) -> Document:
    """A document from a results file of `aegroup predict` (tags and candidates when present)."""
    results = load_results(path)
    file_schema = results.pose_schema
    if schema is not None:
        file_schema = _compatible(load_schema(schema), file_schema, path)
    tag_dims = {len(t) for a in results.annotations if a.tags for t in a.tags}
    tag_dim = tag_dims.pop() if len(tag_dims) == 1 else 0
    anns = group_by_image([a.model_dump() for a in results.annotations])
    cands = {int(c.image_id): candidate_arrays(c.model_dump()) for c in results.candidates or []}
    images = []
    for info in results.images:
        size = max(info.width, info.height)
        cand = cands.get(info.id)
        ann = annotations_from_results(anns.get(info.id, []), file_schema, tag_dim, cand, size)
        images.append(ImageRecord(info.id, info.file_name, info.width, info.height, ann, False, cand))
    return _document(file_schema, images, tag_dim, image_dir, path)


def open_coco(path: Path, image_dir: Path, schema: str | PoseSchema | None = None) -> Document:
    """A document from a COCO keypoints file (no tags); crowd regions and empty annotations are skipped."""
    if schema is None:
        category = first_keypoint_category(read_coco_json(path), path)
        pose_schema = PoseSchema.from_coco_category(category)
        coco = load_coco(path, pose_schema, categories=[category["id"]])
    else:
        pose_schema = load_schema(schema)
        coco = load_coco(path, pose_schema)
    k = pose_schema.num_joints
    images = []
    for image_id in coco.image_ids:
        info = coco.image_info(image_id)
        anns = coco.labelled(image_id)
        ann = annotations_from_coco(anns, k) if anns else Annotations.empty(k, 0)
        images.append(ImageRecord(image_id, info["file_name"], int(info["width"]), int(info["height"]), ann))
    return _document(pose_schema, images, 0, image_dir, path)


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
    head, _, tail = Autosave(project=Path(project_path).name, images=[]).model_dump_json().rpartition("[]")
    if cache is None or tail != "}":  # the images must close the object for their JSON to be spliced in
        return save_autosave(project_path, [image_to_project(doc.images[i]) for i in changed])
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
    """Replace images by their autosaved versions (matched by id and file name); returns how many."""
    data = load_autosave(project_path, doc.schema.num_joints, doc.tag_dim)
    if data is None:
        return 0
    index = {(im.id, im.file_name): i for i, im in enumerate(doc.images)}
    restored = 0
    for saved in data.images:
        i = index.get((saved.id, saved.file_name))
        if i is None:
            continue
        record = image_from_project(saved)
        doc.set_annotations(i, record.annotations)
        doc.set_reviewed(i, record.reviewed)
        restored += 1
    return restored


def export_coco(doc: Document, path: Path, reviewed_only: bool = False) -> tuple[Path, int, int]:
    """Write a COCO keypoints training file; returns (path, images written, instances written)."""
    chosen = [im for im in doc.images if im.reviewed or not reviewed_only]
    infos = [
        {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height} for im in chosen
    ]
    every = keypoints_of(doc)
    keypoints = {im.id: every[im.id] for im in chosen}
    coco = build_coco(doc.schema, infos, keypoints)
    return save_coco(path, coco), len(chosen), sum(len(v) for v in keypoints.values())


def default_project_path(source: Path) -> Path:
    """Where a project started from `source` is saved when no --project is given: beside it, `.aeproj`."""
    return Path(source).with_suffix(".aeproj")


def keypoints_of(doc: Document) -> dict[int, np.ndarray]:
    """Image id -> (N, K, 3) x, y, v of the instances with at least one joint (what export writes)."""
    out = {}
    for im in doc.images:
        ann = im.annotations
        out[im.id] = ann.keypoints[ann.present().any(axis=1)]
    return out

"""The autosave sidecar from cached per-image JSON equals the plain one; only edited images are redone."""

from __future__ import annotations

import json
from pathlib import Path

from aegroup.io.project import autosave_path
from aegroup.schema import load_schema
from aegroup_gui.demo import noisy_results, random_coco
from aegroup_gui.model import files
from aegroup_gui.model.document import Document
from aegroup_gui.model.files import open_results, recover_autosave, write_autosave


def edited_document(tmp_path: Path) -> Document:
    """A six-image document opened from noisy results."""
    schema = load_schema("coco17")
    coco = random_coco(schema, 6, 3, seed=5)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(noisy_results(coco, schema, tag_dim=2, seed=6)))
    return open_results(path, tmp_path)


def move_first_joint(doc: Document, index: int, dx: float) -> None:
    """An edit of image `index`: its first instance's first joint moves by dx."""
    arrays = doc.images[index].annotations.writable()
    arrays["keypoints"][0, 0, 0] += dx
    doc.set_annotations(index, type(doc.images[index].annotations).build(**arrays))


def plain_sidecar(doc: Document, project: Path) -> bytes:
    """The sidecar as written without a cache (every changed image serialised)."""
    write_autosave(doc, project)
    return autosave_path(project).read_bytes()


def test_cached_sidecar_equals_the_plain_one_and_reserialises_only_edits(tmp_path: Path, monkeypatch) -> None:
    doc = edited_document(tmp_path)
    project = tmp_path / "p.aeproj"
    cache: files.DumpCache = {}
    calls: list[int] = []
    to_project = files.image_to_project
    monkeypatch.setattr(
        files, "image_to_project", lambda record: calls.append(record.id) or to_project(record)
    )
    assert write_autosave(doc, project, cache) is None  # nothing edited yet
    for step, (index, dx) in enumerate([(1, 2.0), (4, -3.0), (1, 0.5), (2, 0.0)]):
        if dx:
            move_first_joint(doc, index, dx)
        else:
            doc.set_reviewed(index, True)
        calls.clear()
        write_autosave(doc, project, cache)
        cached = autosave_path(project).read_bytes()
        assert calls == [doc.images[index].id]  # only the image just edited was serialised again
        assert cached == plain_sidecar(doc, project), step
    assert [im["id"] for im in json.loads(cached)["images"]] == [doc.images[i].id for i in (1, 2, 4)]
    fresh = edited_document(tmp_path)  # the app reopened after a crash: the edits come back
    assert recover_autosave(fresh, project) == 3
    assert fresh.same_state(doc.snapshot())

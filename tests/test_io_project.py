"""Project files: lossless save/load, one-line errors, autosave recovery, COCO export read by the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aegroup.errors import AegroupError
from aegroup.io.poses import VideoRef
from aegroup.io.project import autosave_path, decode_array, encode_array, load_project
from aegroup.schema import load_schema
from aegroup.synth import synthesize
from aegroup_gui.demo import noisy_results, random_coco
from aegroup_gui.model import actions
from aegroup_gui.model.document import Annotations, Document, ImageRecord
from aegroup_gui.model.files import (
    autosave_is_newer,
    export_coco,
    open_coco,
    open_project,
    open_results,
    recover_autosave,
    save_document,
    write_autosave,
)

V1_FILE = Path(__file__).parent / "data" / "project_v1.aeproj"
V2_FILE = Path(__file__).parent / "data" / "project_v2.aeproj"


def results_document(tmp_path: Path, tag_dim: int = 2) -> Document:
    """A document from a noisy results file over random ground truth (3 images, 4 instances)."""
    schema = load_schema("coco17")
    results = noisy_results(random_coco(schema, 3, 4, seed=5), schema, tag_dim=tag_dim, seed=6)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return open_results(path, tmp_path)


def edit_some(doc: Document) -> None:
    """A few edits of different kinds on images 0 and 1."""
    doc.set_selection(doc.image.annotations.present_keys()[:3])
    actions.reassign(doc, None).command.apply(doc)
    doc.set_selection(doc.image.annotations.present_keys()[5:6])
    actions.cycle_visibility(doc).command.apply(doc)
    actions.accept_image(doc).command.apply(doc)
    doc.set_current(1)
    doc.set_selection(doc.image.annotations.present_keys()[:1])
    actions.delete_keypoints(doc).command.apply(doc)


@pytest.mark.parametrize("tag_dim", [1, 2])
def test_save_load_is_lossless(tmp_path: Path, tag_dim: int) -> None:
    doc = results_document(tmp_path, tag_dim)
    edit_some(doc)
    path = save_document(doc, tmp_path / "work.aeproj")
    again = open_project(path)
    assert again.same_state(doc.snapshot())
    assert again.schema == doc.schema and again.tag_dim == doc.tag_dim
    assert again.image_dir == doc.image_dir and again.source == doc.source
    assert all(same_candidates(a, b) for a, b in zip(again.images, doc.images, strict=True))
    assert json.loads(path.read_text())["image_dir"] == "."  # relative: the project can move with images
    path2 = save_document(again, tmp_path / "copy.aeproj")
    assert json.loads(path2.read_text()) == json.loads(path.read_text())


def test_coco_input_round_trips_without_tags(tmp_path: Path) -> None:
    schema = load_schema("coco17")
    coco = random_coco(schema, 2, 3, seed=1)
    ann_path = tmp_path / "ann.json"
    ann_path.write_text(json.dumps(coco))
    doc = open_coco(ann_path, tmp_path)
    assert doc.tag_dim == 0 and doc.schema.joints == schema.joints
    expected = np.array(coco["annotations"][0]["keypoints"]).reshape(-1, 3)
    assert np.allclose(doc.images[0].annotations.keypoints[0], expected)
    again = open_project(save_document(doc, tmp_path / "p.aeproj"))
    assert again.same_state(doc.snapshot())


def same_candidates(a: ImageRecord, b: ImageRecord) -> bool:
    """Whether two images hold the same candidate arrays (or both none)."""
    if a.candidates is None or b.candidates is None:
        return a.candidates is b.candidates
    return a.candidates.keys() == b.candidates.keys() and all(
        np.array_equal(a.candidates[n], b.candidates[n]) for n in a.candidates
    )


def packed(values: list, dtype: str = "float64") -> dict:
    """A packed array as the project file stores it."""
    return encode_array(np.array(values, dtype))


def far_joints(data: dict) -> dict:
    """Image 0's candidate joint types, all set outside the schema."""
    size = decode_array(data["images"][0]["candidates"]["joint"]).size
    return packed([99] * size, "int64")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["images"][0]["instances"].update(keypoints=packed([1.0, 2.0])), r"instances\.keypoints"),
        (
            lambda d: d["images"][0]["instances"]["keypoints"].update(data="@@"),
            r"instances\.keypoints.*base64",
        ),
        (
            lambda d: d["images"][0]["instances"]["scores"].update(dtype="complex"),
            r"instances\.scores.*dtype",
        ),
        (lambda d: d["images"][0]["instances"]["origin"].update(shape=[1]), r"instances\.origin.*bytes"),
        (lambda d: d["images"][0]["instances"].update(ids=packed([1.5] * 4)), r"instances\.ids.*integer"),
        (lambda d: d["images"][0]["instances"].update(status=packed([0, 0, 9, 0, 0], "int8")), r"status"),
        (lambda d: d["images"][0]["candidates"].update(joint=far_joints(d)), r"candidates\.joint"),
        (lambda d: d.update(version=7), r"field 'version'"),
        (lambda d: d["images"][1].update(id=d["images"][0]["id"]), r"duplicate image id"),
    ],
)
def test_bad_project_files_give_one_line_errors(tmp_path: Path, mutate, message: str) -> None:
    doc = results_document(tmp_path)
    path = save_document(doc, tmp_path / "p.aeproj")
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(AegroupError, match=message) as err:
        load_project(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_visibility_outside_0_1_2_is_refused(tmp_path: Path) -> None:
    path = save_document(results_document(tmp_path), tmp_path / "p.aeproj")
    data = json.loads(path.read_text())
    keypoints = decode_array(data["images"][0]["instances"]["keypoints"]).copy()
    keypoints[0, 0, 2] = 3
    data["images"][0]["instances"]["keypoints"] = encode_array(keypoints)
    path.write_text(json.dumps(data))
    with pytest.raises(AegroupError, match=r"images\[0\]\.instances\.keypoints': visibility"):
        load_project(path)


def test_float64_values_survive_and_exact_float32_is_narrowed() -> None:
    exact = np.array([[0.5, np.nan], [-2.0, 1e3]])
    assert encode_array(exact)["dtype"] == "float32"
    assert np.array_equal(decode_array(encode_array(exact)), exact, equal_nan=True)
    fine = np.array([0.1, 1 / 3, np.nan, -np.inf])
    assert encode_array(fine)["dtype"] == "float64"
    assert np.array_equal(decode_array(encode_array(fine)), fine, equal_nan=True)
    ints = np.array([[1, -2], [3, 2**40]], np.int64)
    assert np.array_equal(decode_array(json.loads(json.dumps(encode_array(ints)))), ints)


def test_version_1_file_migrates_on_load(tmp_path: Path) -> None:
    # tests/data/project_v1.aeproj was written by the version-1 code from this same edited document.
    doc = results_document(tmp_path, tag_dim=2)
    edit_some(doc)
    (tmp_path / "images").mkdir()
    old = tmp_path / "old.aeproj"
    old.write_text(V1_FILE.read_text())
    migrated = open_project(old)
    assert migrated.same_state(doc.snapshot())
    assert all(same_candidates(a, b) for a, b in zip(migrated.images, doc.images, strict=True))
    saved = save_document(migrated, tmp_path / "new.aeproj")
    assert json.loads(saved.read_text())["version"] == 3
    assert open_project(saved).same_state(doc.snapshot())


def test_version_2_file_reads_as_untracked_image_files(tmp_path: Path) -> None:
    # tests/data/project_v2.aeproj was written by the version-2 code from this same edited document.
    doc = results_document(tmp_path, tag_dim=2)
    edit_some(doc)
    old = tmp_path / "old.aeproj"
    old.write_text(V2_FILE.read_text())
    project = load_project(old)
    assert project.version == 2 and project.videos == [] and project.tracks == []
    migrated = open_project(old)
    assert migrated.same_state(doc.snapshot())
    assert all((im.annotations.track == -1).all() and im.video is None for im in migrated.images)
    saved = save_document(migrated, tmp_path / "new.aeproj")
    data = json.loads(saved.read_text())
    assert data["version"] == 3 and data["videos"] == [] and data["tracks"] == []
    assert open_project(saved).same_state(doc.snapshot())


def video_project(tmp_path: Path) -> dict:
    """A saved version-3 project of two video frames with tracked instances, as JSON."""
    schema = load_schema("coco17")
    k = schema.num_joints
    ann = Annotations.build(
        ids=[1, 2],
        keypoints=np.ones((2, k, 3)) * 2,
        scores=np.full((2, k), np.nan),
        tags=np.zeros((2, k, 0)),
        origin=np.zeros((2, k), np.int8),
        instance_score=[np.nan, np.nan],
        status=[1, 1],
        track=[1, 0],
    )
    ref = VideoRef(str(tmp_path / "v.mp4"), 64, 48, 10)
    images = [ImageRecord(i, None, 64, 48, ann, video=0, frame_index=f) for i, f in ((1, 2), (2, 7))]
    doc = Document(schema, images, 0, videos=[ref], tracks=["a", "b"])
    return json.loads(save_document(doc, tmp_path / "v.aeproj").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["images"][1].update(video=1), r"images\[1\]\.video': 1 is not one of 1 videos"),
        (lambda d: d["images"][1].update(frame_index=10), r"images\[1\]\.frame_index': 10 is past"),
        (lambda d: d["images"][1].update(frame_index=2), r"images\[1\]\.frame_index': frame 2 .* twice"),
        (lambda d: d["images"][0].pop("frame_index"), r"images\[0\]\.frame_index': missing"),
        (lambda d: d["images"][0].pop("video"), r"images\[0\]': has neither"),
        (lambda d: d["images"][0]["instances"].update(track=packed([0, 2], "int64")), r"track ids must be"),
        (
            lambda d: d["images"][0]["instances"].update(track=packed([1, 1], "int64")),
            r"one track given to two",
        ),
        (lambda d: d["images"][0]["instances"].update(track=packed([1.0, 0.0])), r"track': dtype"),
    ],
)
def test_bad_video_frames_and_tracks_are_one_line_errors(tmp_path: Path, mutate, message: str) -> None:
    data = video_project(tmp_path)
    mutate(data)
    path = tmp_path / "bad.aeproj"
    path.write_text(json.dumps(data))
    with pytest.raises(AegroupError, match=message) as err:
        load_project(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_video_frames_and_tracks_round_trip(tmp_path: Path) -> None:
    data = video_project(tmp_path)
    assert data["version"] == 3 and data["tracks"] == ["a", "b"]
    assert data["videos"] == [{"path": "v.mp4", "width": 64, "height": 48, "frames": 10, "dataset": None}]
    assert [(im["video"], im["frame_index"], im["file_name"]) for im in data["images"]] == [
        (0, 2, None),
        (0, 7, None),
    ]
    doc = open_project(tmp_path / "v.aeproj")
    assert doc.tracks == ["a", "b"] and doc.videos[0].path == str(tmp_path / "v.mp4")
    assert [im.annotations.track.tolist() for im in doc.images] == [[1, 0], [1, 0]]


def test_bad_version_1_file_is_a_one_line_error(tmp_path: Path) -> None:
    data = json.loads(V1_FILE.read_text())
    data["images"][2]["instances"][1]["scores"] = [0.5]
    path = tmp_path / "old.aeproj"
    path.write_text(json.dumps(data))
    with pytest.raises(AegroupError, match=r"old\.aeproj: field 'images\[2\]\.instances\[1\]\.scores'"):
        load_project(path)


def test_version_1_autosave_is_recovered(tmp_path: Path) -> None:
    project = tmp_path / "p.aeproj"
    doc = results_document(tmp_path, tag_dim=2)
    save_document(doc, project)
    old = json.loads(V1_FILE.read_text())
    sidecar = {"format": "aegroup-autosave", "version": 1, "project": "p.aeproj", "images": old["images"]}
    autosave_path(project).write_text(json.dumps(sidecar))
    assert recover_autosave(doc, project) == 3
    (tmp_path / "ref").mkdir()
    edited = results_document(tmp_path / "ref", tag_dim=2)
    edit_some(edited)
    assert doc.same_state(edited.snapshot())


def test_truncated_project_is_a_one_line_error(tmp_path: Path) -> None:
    path = save_document(results_document(tmp_path), tmp_path / "p.aeproj")
    path.write_text(path.read_text()[:200])
    with pytest.raises(AegroupError, match=r"p\.aeproj") as err:
        load_project(path)
    assert "\n" not in str(err.value)


def test_autosave_recovers_edits_and_save_clears_it(tmp_path: Path) -> None:
    project = tmp_path / "p.aeproj"
    doc = results_document(tmp_path)
    save_document(doc, project)
    assert write_autosave(doc, project) is None  # nothing changed since the save
    edit_some(doc)
    write_autosave(doc, project)
    assert autosave_is_newer(project)
    fresh = open_project(project)
    assert not fresh.same_state(doc.snapshot())
    assert recover_autosave(fresh, project) == 2
    assert fresh.same_state(doc.snapshot())
    save_document(fresh, project)
    assert not autosave_path(project).exists() and not autosave_is_newer(project)


def test_export_reads_back_through_the_dataset(tmp_path: Path) -> None:
    from aegroup.data import CocoPoseDataset

    schema = load_schema("coco17")
    gt_path = synthesize(schema, tmp_path / "synth", n_images=3, max_instances=3, size=(128, 128), seed=2)
    results = noisy_results(json.loads(gt_path.read_text()), schema, seed=3)
    res_path = tmp_path / "results.json"
    res_path.write_text(json.dumps(results))
    doc = open_results(res_path, gt_path.parent / "images")
    edit_some(doc)
    out, n_images, n_instances = export_coco(doc, tmp_path / "train.json")
    dataset = CocoPoseDataset(out, doc.image_dir, schema, train=False, input_size=128)
    assert len(dataset) == n_images == 3
    total = 0
    for image in doc.images:
        ann = image.annotations
        ours = ann.keypoints[ann.present().any(axis=1)]
        theirs, crowd = dataset.coco.keypoints(image.id)
        assert not crowd.any()
        assert np.allclose(theirs, np.round(ours, 2))
        total += len(ours)
        item = dataset[dataset.image_ids.index(image.id)]
        assert int(item["joints"][..., 1].sum()) == int(ann.present().sum())
    assert total == n_instances
    reviewed_only = export_coco(doc, tmp_path / "reviewed.json", reviewed_only=True)
    assert reviewed_only[1] == 1


def test_real_coco_sets_open_and_export_unchanged(real_set, tmp_path: Path) -> None:
    from aegroup.io.coco import load_coco

    ann_file, folder, schema_name = real_set
    doc = open_coco(ann_file, folder, schema_name)
    out, _, _ = export_coco(doc, tmp_path / "export.json")
    original = load_coco(ann_file, load_schema(schema_name))
    exported = load_coco(out, load_schema(schema_name))
    for image_id in original.image_ids:
        kps, crowd = original.keypoints(image_id)
        labelled = kps[~crowd & (kps[..., 2] > 0).any(axis=1)]
        again, _ = exported.keypoints(image_id)
        assert np.allclose(again, np.round(labelled, 2))

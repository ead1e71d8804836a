"""The labeller's model on video frames and from scratch, without Qt: frames looked at vs. labelled,
navigation, placing a new instance joint by joint, pose files in and out, autosave of new frames."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from posesets import FRAMES, LABELLED, critter, synthetic_poses, video_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import load_poses, save_poses
from aegroup.io.poses import VISIBLE, PoseSet
from aegroup.io.provenance import InstanceStatus
from aegroup_gui.model import edits, navigation, placing
from aegroup_gui.model.convert import document_from_poses, poses_from_document
from aegroup_gui.model.document import Annotations, Document
from aegroup_gui.model.files import (
    export_poses,
    open_images,
    open_project,
    open_video,
    recover_autosave,
    save_document,
    write_autosave,
)
from aegroup_gui.model.session import open_session

pytest.importorskip("av")


@pytest.fixture
def video_doc(tmp_path: Path) -> Document:
    """The numbered test video with its six labelled frames (two tracked instances each)."""
    return document_from_poses(video_poses(tmp_path), tmp_path / "labels.slp")


def place_all(
    doc: Document, state: placing.Placing, points: dict[int, tuple[float, float]]
) -> placing.Placing:
    """Place joints as a person would: a click per awaited joint (in `points`), a skip for the others;
    returns the final state."""
    while (joint := state.next_joint(doc.image.annotations)) is not None:
        if joint in points:
            command = placing.place(doc, state, points[joint])
            assert command is not None
            command.apply(doc)
        else:
            state = state.skip(doc.image.annotations)
    return state


def test_looking_at_a_frame_changes_nothing_until_it_is_edited(video_doc: Document) -> None:
    doc = video_doc
    assert [im.frame_index for im in doc.images] == LABELLED and doc.scratch is None
    before = doc.snapshot()
    index = doc.show_frame(0, 7)
    assert index == len(before) and doc.scratch == index and doc.image.frame_index == 7
    assert doc.image.annotations.num_instances == 0 and doc.kept() == list(range(len(before)))
    doc.show_frame(0, 9)  # the scratch record now shows frame 9: still one extra record
    assert len(doc.images) == len(before) + 1 and doc.frame_image(0, 7) is None
    doc.show_frame(0, LABELLED[2])  # back to a labelled frame: the scratch record is gone
    assert doc.same_state(before) and doc.scratch is None and doc.current == 2
    doc.show_frame(0, 30)
    ann, _ = edits.new_instance(doc.image.annotations)
    added: list[int] = []
    doc.subscribe(lambda change: added.append(change.image) if change.kind == "added" else None)
    doc.set_annotations(doc.current, ann)  # the first edit makes it a frame of the document
    assert added == [len(before)] and doc.scratch is None and doc.kept() == list(range(len(before) + 1))
    doc.show_frame(0, 31)
    assert doc.frame_image(0, 30) == len(before) and doc.scratch == len(before) + 1
    with pytest.raises(IndexError):
        doc.show_frame(0, FRAMES)


def test_frame_navigation_through_every_frame_and_labelled_ones(video_doc: Document) -> None:
    doc = video_doc
    doc.set_current(0)  # frame 3
    assert navigation.step_frame(doc, 1) is not None and doc.image.frame_index == 4
    assert navigation.step_frame(doc, -10) is not None and doc.image.frame_index == 0
    assert navigation.step_frame(doc, -1) is None  # the first frame
    seen = []
    while navigation.step_labelled(doc, 1) is not None:
        seen.append(doc.image.frame_index)
    assert seen == LABELLED
    navigation.go_to_frame(doc, 18)
    assert doc.image.frame_index == 18 and doc.current == doc.scratch
    assert navigation.step_labelled(doc, -1) is not None and doc.image.frame_index == 12
    navigation.go_to_frame(doc, 10**6)
    assert doc.image.frame_index == FRAMES - 1
    assert navigation.labelled_frames(doc, 0).tolist() == LABELLED


def test_placing_asks_for_joints_in_schema_order_skips_and_follows_undo(video_doc: Document) -> None:
    doc = video_doc
    doc.show_frame(0, 20)
    state = placing.start(doc)
    k = doc.schema.num_joints
    assert state.order == tuple(range(k)) and state.next_joint(doc.image.annotations) == 0
    assert "'snout'" in placing.prompt(doc, state)
    first = placing.place(doc, state, (10.5, 20.25))
    assert first is not None
    first.apply(doc)  # the first joint creates the instance
    assert doc.image.annotations.ids.tolist() == [state.instance_id]
    state = state.skip(doc.image.annotations)  # neck left absent
    second = placing.place(doc, state, (30.0, 5.0))
    assert second is not None and second.label == "Place earL"
    second.apply(doc)
    assert state.placed(doc.image.annotations) == [0, 2]
    assert state.next_joint(doc.image.annotations) == 3
    second.revert(doc)  # undo takes the last joint back and asks for it again
    assert state.next_joint(doc.image.annotations) == 2
    second.apply(doc)
    state = place_all(doc, state, {5: (1.0, 2.0)})
    ann = doc.image.annotations
    assert ann.status.tolist() == [InstanceStatus.ADDED] and ann.track.tolist() == [-1]
    assert np.flatnonzero(ann.present()[0]).tolist() == [0, 2, 5]
    assert np.array_equal(
        ann.keypoints[0, [0, 2, 5]], [[10.5, 20.25, VISIBLE], [30, 5, VISIBLE], [1, 2, VISIBLE]]
    )
    assert np.isnan(ann.scores[0]).all() and "every joint" in placing.prompt(doc, state)


def test_labels_from_scratch_save_as_user_instances_in_slp(tmp_path: Path, video_doc: Document) -> None:
    doc = video_doc
    doc.set_current(1)  # frame 4: its instances become predictions with scores, one of them then edited
    ann = doc.image.annotations
    preds = ann.evolve(
        status=[InstanceStatus.PREDICTED] * 2,
        scores=np.where(ann.present(), 0.75, np.nan),
        instance_score=[0.9, 0.8],
        origin=np.zeros_like(ann.origin),
    )
    doc.set_annotations(1, edits.move_keypoint(preds, (1, 0), (5.5, 6.5)))
    doc.show_frame(0, 33)
    state = placing.start(doc)
    place_all(doc, state, {0: (11.125, 12.5), 3: (40.0, 30.75)})
    out, frames, instances = export_poses(doc, tmp_path / "out.slp")
    assert (frames, instances) == (len(LABELLED) + 1, 2 * len(LABELLED) + 1)
    back = load_poses(out)
    assert back.tracks == ["female", "male"] and back.videos[0].frames == FRAMES
    by_frame = {f.frame_index: f for f in back.frames}
    new = by_frame[33]
    assert new.user.tolist() == [True] and new.track.tolist() == [-1]
    assert np.array_equal(new.keypoints[0, [0, 3]], [[11.125, 12.5, VISIBLE], [40.0, 30.75, VISIBLE]])
    assert (new.keypoints[0, [1, 2, 4, 5, 6, 7], 2] == 0).all()
    edited = by_frame[4]
    assert edited.user.tolist() == [True, False]  # the edited prediction is now a person's label
    assert edited.keypoints[0, 0, :2].tolist() == [5.5, 6.5] and edited.track.tolist() == [0, 1]
    assert edited.instance_score[1] == pytest.approx(0.8) and np.allclose(
        edited.scores[1][edited.present()[1]], 0.75
    )
    untouched = by_frame[3]
    original = doc.images[0].annotations
    assert untouched.user.all() and untouched.track.tolist() == original.track.tolist()
    assert np.array_equal(untouched.keypoints[untouched.present()], original.keypoints[original.present()])


def test_project_round_trip_keeps_video_frames_and_tracks(tmp_path: Path, video_doc: Document) -> None:
    doc = video_doc
    doc.show_frame(0, 38)
    place_all(doc, placing.start(doc), {1: (3.0, 4.0)})
    doc.show_frame(0, 39)  # looked at, not edited: not saved
    path = save_document(doc, tmp_path / "p" / "work.aeproj")
    again = open_project(path)
    assert [im.frame_key for im in again.images] == [(0, f) for f in [*LABELLED, 38]]
    assert again.tracks == ["female", "male"] and Path(again.videos[0].path) == Path(doc.videos[0].path)
    assert again.same_state(doc.snapshot()[:-1])
    poses = load_poses(path)  # the project as a pose file: video frames and tracks
    assert poses.tracks == doc.tracks and [f.frame_index for f in poses.frames] == [*LABELLED, 38]
    assert [f.track.tolist() for f in poses.frames[:-1]] == [[0, 1]] * len(LABELLED)


def test_autosave_brings_back_frames_labelled_since_the_last_save(tmp_path: Path) -> None:
    poses = video_poses(tmp_path)
    project = tmp_path / "labels.aeproj"
    doc = document_from_poses(poses, tmp_path / "labels.slp")
    save_document(doc, project)
    doc.show_frame(0, 21)
    place_all(doc, placing.start(doc), {0: (7.0, 8.0)})
    doc.set_tracks([*doc.tracks, "track_2"])
    doc.set_annotations(doc.current, doc.image.annotations.evolve(track=[2]))
    write_autosave(doc, project)
    fresh = open_project(project)
    fresh.show_frame(0, 21)  # the frame is on screen as an unlabelled one when recovering
    assert recover_autosave(fresh, project) == 1
    assert fresh.tracks == ["female", "male", "track_2"] and fresh.scratch is None
    restored = fresh.images[fresh.frame_image(0, 21)].annotations
    assert restored.same_as(doc.image.annotations)


def test_video_and_image_folder_open_with_nothing_labelled(tmp_path: Path) -> None:
    from posesets import encode

    video = encode(tmp_path / "v.mp4", "libx264", gop=10)
    doc = open_video(video, critter_schema(tmp_path))
    assert len(doc.images) == 1 and doc.scratch == 0 and doc.videos[0].frames == FRAMES
    assert doc.image.frame_index == 0 and doc.kept() == []
    poses = synthetic_poses(tmp_path / "imgs", images=3)
    folder = Path(poses.image_dir or "")
    images = open_images(folder, critter_schema(tmp_path))
    assert [im.file_name for im in images.images] == sorted(p.name for p in folder.glob("*.png"))
    assert all(im.annotations.num_instances == 0 for im in images.images)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AegroupError, match="no image files"):
        open_images(tmp_path / "empty", critter_schema(tmp_path))


def critter_schema(folder: Path) -> str:
    """The test skeleton as a schema file (what --schema takes)."""
    import yaml

    path = folder / "critter.yaml"
    path.write_text(yaml.safe_dump(critter().model_dump(exclude_none=True)))
    return str(path)


def test_sessions_open_slp_dlc_video_and_images(tmp_path: Path) -> None:
    poses = video_poses(tmp_path / "v")
    slp = save_poses(poses, tmp_path / "v" / "labels.slp")
    session = open_session(None, source=slp)
    assert session.project_path == (tmp_path / "v" / "labels.aeproj").resolve()
    assert len(session.doc.images) == len(LABELLED) and session.doc.tracks == ["female", "male"]
    images = synthetic_poses(tmp_path / "s", images=3, predicted=False)
    dlc = save_poses(images, tmp_path / "dlc", to="dlc")
    doc = open_session(None, source=dlc).doc
    assert len(doc.images) == 3 and doc.images[0].file_name is not None
    expected = [f.keypoints[f.present()] for f in load_poses(dlc).frames]
    got = [im.annotations.keypoints[im.annotations.present()] for im in doc.images]
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
    video = open_session(None, video=tmp_path / "v" / "clip.mp4", schema=critter_schema(tmp_path)).doc
    assert video.kept() == [] and video.videos[0].frames == FRAMES
    with pytest.raises(AegroupError, match="--schema is needed"):
        open_session(None, video=tmp_path / "v" / "clip.mp4")
    with pytest.raises(AegroupError, match="nothing to open"):
        open_session(None)
    with pytest.raises(AegroupError, match="not SOURCE and --coco"):
        open_session(None, coco=slp, source=slp)


def test_document_and_pose_set_convert_both_ways(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path, images=4)
    doc = document_from_poses(poses, tmp_path / "x.json")
    back: PoseSet = poses_from_document(doc)
    for a, b in zip(poses.frames, back.frames, strict=True):
        assert np.array_equal(a.keypoints, b.keypoints, equal_nan=True)
        assert a.user.tolist() == b.user.tolist() and a.track.tolist() == b.track.tolist()
        assert np.array_equal(a.instance_score, b.instance_score, equal_nan=True)
        assert np.array_equal(np.where(a.present(), a.scores, np.nan), b.scores, equal_nan=True)
    assert back.tracks == poses.tracks


def test_empty_annotations_default_to_untracked() -> None:
    ann = Annotations.empty(4, 1)
    grown, new_id = edits.new_instance(ann)
    assert grown.track.tolist() == [-1] and new_id == 1


def test_results_of_a_video_open_with_their_video_frames(tmp_path: Path) -> None:
    poses = video_poses(tmp_path / "v")
    predicted = replace(
        poses,
        frames=[
            replace(f, user=np.zeros(f.num_instances, bool), scores=np.where(f.present(), 0.5, np.nan))
            for f in poses.frames
        ],
    )
    results = save_poses(predicted, tmp_path / "r" / "results.json", to="results")
    moved = tmp_path / "elsewhere.mp4"
    (tmp_path / "v" / "clip.mp4").rename(moved)
    doc = open_session(None, results=results, video=moved).doc
    assert [im.frame_key for im in doc.images] == [(0, f) for f in LABELLED]
    assert doc.videos[0].path == str(moved) and doc.videos[0].frames == FRAMES
    assert doc.tracks == ["female", "male"] and doc.images[0].annotations.track.tolist() == [0, 1]
    assert (doc.images[0].annotations.status == InstanceStatus.PREDICTED).all()


def test_label_cli_bad_input_is_one_line(cli, tmp_path: Path) -> None:
    missing = cli("label", str(tmp_path / "nope.slp"))
    assert missing.code == 2 and "nope.slp" in missing.err and missing.err.count("\n") == 1
    video = cli("label", "--video", str(tmp_path / "nope.mp4"), "--schema", "coco17")
    assert video.code == 2 and "nope.mp4" in video.err and video.err.count("\n") == 1
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    broken = cli("label", "--video", str(tmp_path / "x.mp4"), "--schema", "coco17")
    assert broken.code == 2 and "x.mp4" in broken.err and broken.err.count("\n") == 1
    schema = cli("label", "--video", str(tmp_path / "x.mp4"))
    assert schema.code == 2 and "--schema is needed" in schema.err


def test_a_video_project_converts_to_coco_but_export_says_how(
    cli, tmp_path: Path, video_doc: Document
) -> None:
    project = save_document(video_doc, tmp_path / "v.aeproj")
    refused = cli("export", str(project), "--out", str(tmp_path / "x.json"))
    assert refused.code == 2 and "aegroup convert" in refused.err and refused.err.count("\n") == 1
    done = cli("convert", str(project), str(tmp_path / "out.json"))
    assert done.code == 0, done.err
    coco = load_poses(tmp_path / "out.json")
    assert len(coco.frames) == len(LABELLED) and coco.tracks == ["female", "male"]
    assert all((tmp_path / "out_frames" / "clip" / f"{f:06d}.png").is_file() for f in LABELLED)

"""Identity edits from a frame on and the identity review queue, without Qt, against plain loops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from posesets import video_poses, walking_poses

from aegroup.track import track_doubt
from aegroup_gui.model import actions, identity
from aegroup_gui.model.actions import Refused
from aegroup_gui.model.convert import document_from_poses, poses_from_document
from aegroup_gui.model.document import Document
from aegroup_gui.model.files import open_project, save_document

pytest.importorskip("av")


@pytest.fixture
def doc(tmp_path: Path) -> Document:
    """The numbered test video's six labelled frames, two instances on tracks female (0) and male (1),
    plus a third track `pup` in frames 12 and 26 (row 1 of those frames)."""
    doc = document_from_poses(video_poses(tmp_path), tmp_path / "labels.slp")
    doc.set_tracks([*doc.tracks, "pup"])
    for index in (3, 5):
        ann = doc.images[index].annotations
        doc.set_annotations(index, ann.evolve(track=[ann.track[0], 2]))
    return doc


def tracks_by_frame(doc: Document) -> dict[int, list[int]]:
    """Frame number -> track of each instance row."""
    return {int(im.frame_index or 0): im.annotations.track.tolist() for im in doc.images}


def reference_relabel(
    tracks: dict[int, list[int]], here: int, here_tracks: list[int], a: int, b: int
) -> dict[int, list[int]]:
    """The plain definition: frame `here` gets `here_tracks`; every later frame swaps a and b."""
    out = {}
    for frame, row_tracks in tracks.items():
        if frame == here:
            out[frame] = list(here_tracks)
        elif frame > here and a >= 0 and b >= 0:
            out[frame] = [b if t == a else a if t == b else t for t in row_tracks]
        else:
            out[frame] = list(row_tracks)
    return out


def test_swap_from_here_swaps_this_and_every_later_frame(doc: Document) -> None:
    before_state, before = doc.snapshot(), tracks_by_frame(doc)
    doc.set_current(2)  # frame 5: instances 1 (female) and 2 (male)
    command = actions.swap_identities(doc).command  # no selection: the frame's only two instances
    command.apply(doc)
    expected = reference_relabel(before, 5, [1, 0], 0, 1)
    assert tracks_by_frame(doc) == expected
    assert tracks_by_frame(doc)[4] == [0, 1] and tracks_by_frame(doc)[12] == [1, 2]
    assert set(command.after) == {2, 3, 4, 5}  # frames 5 and later
    command.revert(doc)
    assert doc.same_state(before_state)
    # coordinates and everything else are untouched
    command.apply(doc)
    for index, (ann, _) in enumerate(before_state):
        now = doc.images[index].annotations
        assert np.array_equal(now.keypoints, ann.keypoints) and np.array_equal(now.ids, ann.ids)


def test_assign_from_here_continues_the_identity_as_the_new_track(doc: Document) -> None:
    before = tracks_by_frame(doc)
    doc.set_current(3)  # frame 12: female (row 0) and pup (row 1)
    doc.set_selection([(int(doc.image.annotations.ids[1]), 0)])
    command = actions.assign_track(doc, 2).command  # pup -> male from here on
    command.apply(doc)
    assert tracks_by_frame(doc) == reference_relabel(before, 12, [0, 1], 2, 1)
    with pytest.raises(Refused, match="already"):
        actions.assign_track(doc, 2)
    with pytest.raises(Refused, match="no track 4"):
        actions.assign_track(doc, 4)
    command.revert(doc)
    assert tracks_by_frame(doc) == before


def test_assign_takes_the_track_from_its_holder_and_untracked_changes_here_only(doc: Document) -> None:
    doc.set_current(1)  # frame 4: female, male
    ann = doc.image.annotations
    doc.set_annotations(1, ann.evolve(track=[-1, 1]))  # row 0 untracked
    before = tracks_by_frame(doc)
    doc.set_selection([(int(ann.ids[0]), 0)])
    actions.assign_track(doc, 2).command.apply(doc)  # untracked -> male; male's holder becomes untracked
    assert tracks_by_frame(doc) == {**before, 4: [1, -1]}


def test_new_track_splits_the_track_here_and_undoes_with_its_name(doc: Document) -> None:
    before_tracks, before = list(doc.tracks), tracks_by_frame(doc)
    doc.set_current(3)  # frame 12
    doc.set_selection([(int(doc.image.annotations.ids[0]), 0)])  # female
    command = actions.new_track(doc).command
    command.apply(doc)
    assert doc.tracks == [*before_tracks, "track_3"]
    assert tracks_by_frame(doc) == reference_relabel(before, 12, [3, 2], 0, 3)
    assert tracks_by_frame(doc)[5] == [0, 1]  # earlier frames keep female
    command.revert(doc)
    assert doc.tracks == before_tracks and tracks_by_frame(doc) == before
    assert identity.new_track_name(["track_2", "a"]) == "track_3"


def test_identity_edits_need_one_or_two_instances(doc: Document) -> None:
    doc.show_frame(0, 30)  # unlabelled
    with pytest.raises(Refused, match="exactly two"):
        actions.swap_identities(doc)
    with pytest.raises(Refused, match="one instance"):
        actions.new_track(doc)


def walking_pair() -> Document:
    """Two animals walking side by side (tracks left and right), 20 frames."""
    return document_from_poses(walking_poses(), Path("walk.slp"))


def test_review_queue_ranks_frames_by_track_doubt_and_follows_a_fix() -> None:
    doc = walking_pair()
    doc.set_current(10)
    wrong = actions.swap_identities(doc).command  # a wrong swap at frame 10
    wrong.apply(doc)
    doubts = identity.identity_doubts(doc)
    reference = track_doubt(poses_from_document(doc))
    flat = sorted(
        (-float(d[r]), t, int(doc.images[t].annotations.ids[r]))
        for t, d in enumerate(reference)
        for r in range(2)
    )
    assert [(-d.doubt, d.image, d.instance) for d in doubts] == flat  # frame t is image t here
    queue = identity.frame_doubts(doubts)
    assert len(queue) == 20 and queue[0].image == 10 and queue[0].doubt == pytest.approx(1.0)
    # The motion model takes two frames to trust the swapped identities again; elsewhere nothing is doubtful.
    assert all(d.doubt < 0.5 for d in queue if d.image not in (10, 11, 12))
    wrong.revert(doc)
    assert max(d.doubt for d in identity.identity_doubts(doc)) < 0.5


def test_tracks_survive_the_project_file(tmp_path: Path, doc: Document) -> None:
    doc.set_current(2)
    actions.swap_identities(doc).command.apply(doc)
    again = open_project(save_document(doc, tmp_path / "t.aeproj"))
    assert again.tracks == doc.tracks and tracks_by_frame(again) == tracks_by_frame(doc)


def test_output_of_aegroup_track_opens_with_its_tracks(cli, tmp_path: Path) -> None:
    from dataclasses import replace

    from aegroup.io.formats import save_poses
    from aegroup_gui.model.session import open_session

    poses = video_poses(tmp_path)
    untracked = replace(poses, tracks=[], frames=[replace(f, track=f.track * 0 - 1) for f in poses.frames])
    source = save_poses(untracked, tmp_path / "untracked.slp")
    for out in ("tracked.slp", "tracked.json"):
        args = ["track", str(source), "--out", str(tmp_path / out), "--max-tracks", "2"]
        result = cli(*args, *(["--to", "results"] if out.endswith(".json") else []))
        assert result.code == 0, result.err
        doc = open_session(None, source=tmp_path / out).doc
        assert doc.tracks == ["track_0", "track_1"]
        assert all(sorted(im.annotations.track.tolist()) == [0, 1] for im in doc.images)
        assert [im.frame_index for im in doc.images] == [f.frame_index for f in poses.frames]


def test_demo_video_holds_the_swap_the_queue_finds(tmp_path: Path) -> None:
    from posesets import critter

    from aegroup_gui.demo import demo_video
    from aegroup_gui.model.session import open_session

    video, labels = demo_video(critter(), tmp_path, frames=30, animals=2, size=(240, 180), swap_at=20)
    doc = open_session(None, source=labels).doc
    assert doc.tracks == ["critter_1", "critter_2"] and doc.videos[0].frames == 30
    assert [im.annotations.num_instances for im in doc.images][9:11] == [2, 1]  # the gap from frame 10
    queue = identity.frame_doubts(identity.identity_doubts(doc))
    top = {doc.images[d.image].frame_index for d in queue if d.doubt > 0.5}
    assert 20 in top and video.is_file()

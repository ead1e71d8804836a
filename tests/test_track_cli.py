"""`aegroup track`: COCO files with track_id in and out, the summary line, and bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from track_scenes import animal_poses, wandering_paths

from aegroup.io.formats import FORMATS, load_poses, save_poses
from aegroup.io.poses import PoseSet
from aegroup.schema import load_schema

SCHEMA = load_schema("coco17")


def scene(animals: int = 3, frames: int = 40, seed: int = 0, video: int = 0) -> PoseSet:
    """Animals wandering in one video whose frames also have image names (so COCO can hold them)."""
    poses = animal_poses(SCHEMA, wandering_paths(animals, frames, speed=4.0, seed=seed), seed=seed)
    named = [
        replace(f, id=video * 1000 + f.id, video=video, file_name=f"v{video}/{f.id:05d}.png") for f in poses
    ]
    return replace(poses, frames=named)


def shuffled_untracked(poses: PoseSet, seed: int = 0) -> PoseSet:
    """Instance order shuffled in every frame and the track ids removed."""
    rng = np.random.default_rng(seed)
    frames = [f.select(rng.permutation(f.num_instances)) for f in poses.frames]
    return replace(poses, frames=[replace(f, track=np.full(f.num_instances, -1)) for f in frames], tracks=[])


def same_tracks(written: PoseSet, truth: PoseSet) -> bool:
    """Whether the written tracks group the instances as the truth does: each written instance is taken to
    be the truth's instance of that frame nearest to it, and written and true ids must map one to one."""
    true_frames = {f.id: f for f in truth.frames}
    pairs = set()
    for f in written.frames:
        true = true_frames[f.id]
        for kp, t in zip(f.keypoints, f.track, strict=True):
            nearest = np.nanargmin(np.abs(true.keypoints[:, :, :2] - kp[None, :, :2]).sum(axis=(1, 2)))
            pairs.add((int(true.track[nearest]), int(t)))
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def test_help(cli) -> None:
    result = cli("track", "--help")
    assert result.code == 0
    assert "--max-tracks" in result.out and "--window" in result.out


def test_track_coco_file(cli, tmp_path: Path) -> None:
    truth = scene()
    source = save_poses(shuffled_untracked(truth), tmp_path / "in.json")
    result = cli("track", source, "--out", tmp_path / "out.json")
    assert result.code == 0, result.err
    assert result.out.strip() == (
        f"wrote {tmp_path / 'out.json'}: 40 frames, 120 instances, 3 tracks, 0 instances dropped"
    )
    written = json.loads((tmp_path / "out.json").read_text())
    assert {a["track_id"] for a in written["annotations"]} == {0, 1, 2}
    assert same_tracks(load_poses(tmp_path / "out.json"), truth)


def test_max_tracks_drops_and_says_so(cli, tmp_path: Path) -> None:
    source = save_poses(shuffled_untracked(scene(animals=3)), tmp_path / "in.json")
    result = cli("track", source, "--out", tmp_path / "out.json", "--max-tracks", "2")
    assert result.code == 0, result.err
    assert "80 instances, 2 tracks, 40 instances dropped (frames with more than --max-tracks 2" in result.out
    assert {a["track_id"] for a in json.loads((tmp_path / "out.json").read_text())["annotations"]} == {0, 1}


def test_options_reach_the_tracker(cli, tmp_path: Path) -> None:
    source = save_poses(shuffled_untracked(scene(animals=2, frames=10)), tmp_path / "in.json")
    for extra in (["--method", "iou"], ["--window", "2", "--max-cost", "0.5", "--param", "damping=0.5"]):
        result = cli("track", source, "--out", tmp_path / "out.json", *extra)
        assert result.code == 0, result.err
        assert "2 tracks" in result.out
    named = cli("track", source, "--out", tmp_path / "out.json", "--schema", "coco17")
    assert named.code == 0 and "2 tracks" in named.out
    unknown = cli("track", source, "--out", tmp_path / "out.json", "--schema", "nope")
    assert unknown.code == 2 and "unknown schema 'nope'" in unknown.err
    capped = cli("track", source, "--out", tmp_path / "out.json", "--param", "max_tracks=1")
    assert "1 track, 10 instances dropped" in capped.out


def test_several_videos_out_of_order(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of two videos, interleaved and backwards: each video tracked on its own, frames sorted."""
    a, b = scene(animals=2, frames=15, seed=1), scene(animals=2, frames=15, seed=2, video=1)
    both = replace(a, frames=[x for pair in zip(a.frames, b.frames, strict=True) for x in pair][::-1])
    both = replace(shuffled_untracked(both), videos=[*a.videos, replace(a.videos[0], path="other.mp4")])
    monkeypatch.setattr("aegroup.io.formats.load_poses", lambda *args, **kwargs: both)
    result = cli("track", tmp_path / "in.slp", "--out", tmp_path / "out.json")
    assert result.code == 0, result.err
    assert result.out.strip().endswith(
        "30 frames, 60 instances, 4 tracks, 0 instances dropped; 2 videos tracked separately; frames out of "
        "order in video 0 (synthetic.mp4), video 1 (other.mp4): sorted by frame number"
    )
    written = load_poses(tmp_path / "out.json")
    assert [f.id for f in written.frames] == [*range(15), *range(1000, 1015)]
    b_apart = replace(b, frames=[replace(f, track=f.track + 2) for f in b.frames])
    assert same_tracks(written, replace(a, frames=a.frames + b_apart.frames))


def test_sparse_frames_get_a_note(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 8th frame of a video with the default window of 5: tracks end between frames, and it says so."""
    poses = scene(animals=2, frames=80)
    sparse = replace(poses, frames=poses.frames[::8])
    monkeypatch.setattr("aegroup.io.formats.load_poses", lambda *args, **kwargs: sparse)
    result = cli("track", tmp_path / "in.slp", "--out", tmp_path / "out.json")
    assert result.code == 0, result.err
    assert "20 tracks" in result.out
    assert result.out.strip().endswith(
        "frames of video 0 (synthetic.mp4) are 8 apart, more than --window 5: tracks end between them "
        "(raise --window or set --max-tracks)"
    )
    wider = cli("track", tmp_path / "in.slp", "--out", tmp_path / "out.json", "--window", "8")
    assert wider.code == 0 and "2 tracks" in wider.out and "apart" not in wider.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "0"], "error: --window: Input should be greater than or equal to 1"),
        (["--max-tracks", "0"], "error: --max-tracks: Input should be greater than or equal to 1"),
        (["--max-cost", "-1"], "error: --max-cost: Input should be greater than 0"),
        (["--method", "kalman"], "error: method 'kalman': unknown tracker (available: motion, iou"),
        (["--param", "damping"], "error: --param: expected NAME=VALUE, got 'damping'"),
        (["--param", "speed=3"], "error: --param speed: Extra inputs are not permitted"),
        (["--param", "damping=2"], "error: --param damping: Input should be less than or equal to 1"),
        (["--method", "iou", "--param", "tag_weight=1"], "error: --param tag_weight: Extra inputs"),
    ],
)
def test_nonsense_options_exit_2(cli, tmp_path: Path, args: list[str], message: str) -> None:
    source = save_poses(scene(animals=2, frames=3), tmp_path / "in.json")
    result = cli("track", source, "--out", tmp_path / "out.json", *args)
    assert result.code == 2
    assert result.err.startswith(message) and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()


def test_bad_input_files_exit_2(cli, tmp_path: Path) -> None:
    missing = cli("track", tmp_path / "nope.json", "--out", tmp_path / "out.json")
    assert missing.code == 2 and "nope.json: file not found" in missing.err
    (tmp_path / "notes.txt").write_text("hello")
    unknown = cli("track", tmp_path / "notes.txt", "--out", tmp_path / "out.json")
    assert unknown.code == 2 and "notes.txt: not a pose file" in unknown.err
    empty = save_poses(replace(scene(frames=2), frames=[]), tmp_path / "empty.json")
    nothing = cli("track", empty, "--out", tmp_path / "out.json")
    assert nothing.code == 2 and nothing.err.strip() == f"error: {empty}: no instances to track"
    assert not (tmp_path / "out.json").exists()


@pytest.mark.skipif("slp" not in FORMATS, reason="this tree has no .slp reader yet (aegroup.io.formats)")
def test_track_slp_video_file(cli, tmp_path: Path) -> None:
    truth = scene(animals=2, frames=20)
    video = replace(truth, frames=[replace(f, file_name=None) for f in truth.frames])
    source = save_poses(shuffled_untracked(video), tmp_path / "in.slp")
    result = cli("track", source, "--out", tmp_path / "out.slp", "--max-tracks", "2")
    assert result.code == 0, result.err
    written = load_poses(tmp_path / "out.slp")
    assert len(written.tracks) == 2 and all(f.video == 0 for f in written.frames)

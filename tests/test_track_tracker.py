"""The trackers on synthetic moving animals: crossings, shuffled order, gaps, max tracks, several videos,
frame order, doubt, tags, the registry and plugins; a hypothesis property for the partition into tracks."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import real_data_root
from hypothesis import given, settings
from hypothesis import strategies as st
from track_scenes import animal_poses, wandering_paths

from aegroup.errors import AegroupError
from aegroup.io.formats import FORMATS, load_poses
from aegroup.io.poses import Frame, PoseSet, VideoRef
from aegroup.schema import load_schema
from aegroup.track import (
    TrackFrame,
    TrackParams,
    TrackResult,
    available_trackers,
    get_tracker,
    track_doubt,
    track_poses,
)
from aegroup.track import trackers as registry
from aegroup.track.metrics import evaluate_tracking

SCHEMA = load_schema("coco17")


def crossing(angle_deg: float, frames: int = 41, speed: float = 4.0) -> PoseSet:
    """Two animals on straight lines that cross, at the same place in the middle frame."""
    t = np.arange(frames) - frames // 2
    angle = np.radians(angle_deg)
    first = np.stack([200 + t * speed, 200 + 0 * t], axis=1)
    second = np.stack([200 + t * speed * np.cos(angle), 200 + t * speed * np.sin(angle)], axis=1)
    return animal_poses(SCHEMA, np.stack([first, second]), length=60, size=(400, 400), seed=0)


def shuffled(poses: PoseSet, seed: int) -> tuple[PoseSet, list[np.ndarray]]:
    """The set with every frame's instances in random order, its track ids removed, and the orders."""
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(f.num_instances) for f in poses.frames]
    frames = [
        replace(f.select(o), track=np.full(len(o), -1)) for f, o in zip(poses.frames, orders, strict=True)
    ]
    return replace(poses, frames=frames, tracks=[]), orders


def truth_of(poses: PoseSet, orders: list[np.ndarray]) -> PoseSet:
    """The ground-truth set in the same (shuffled) instance order, for the metrics."""
    return replace(poses, frames=[f.select(o) for f, o in zip(poses.frames, orders, strict=True)])


def same_partition(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Whether two labellings of the same instances put them into the same groups (ids may differ)."""
    pairs = {(int(x), int(y)) for fa, fb in zip(a, b, strict=True) for x, y in zip(fa, fb, strict=True)}
    return len({x for x, _ in pairs}) == len(pairs) == len({y for _, y in pairs})


@pytest.mark.parametrize("angle", [10, 30, 90, 170])
def test_crossings_keep_identities(angle: float) -> None:
    truth = crossing(angle)
    poses, orders = shuffled(truth, seed=angle)
    tracked = track_poses(poses)
    scores = evaluate_tracking(truth_of(truth, orders), tracked.poses)
    assert tracked.num_tracks == 2
    assert (scores.switches, scores.misses, scores.false_positives) == (0, 0, 0)


def test_iou_baseline_swaps_where_motion_does_not() -> None:
    """The crossing is hard: the box baseline, without a motion model, swaps the two animals."""
    truth = crossing(90)
    poses, orders = shuffled(truth, seed=1)
    assert evaluate_tracking(truth_of(truth, orders), track_poses(poses, "iou").poses).switches > 0
    assert evaluate_tracking(truth_of(truth, orders), track_poses(poses, "motion").poses).switches == 0


def test_doubt_peaks_where_animals_cross() -> None:
    tracked = track_poses(shuffled(crossing(10), seed=0)[0])
    peak = np.array([d.max() for d in tracked.doubt])
    assert peak.min() >= 0.0 and peak.max() <= 1.0
    assert peak[0] == 0.0  # the first frame has no other choice than new tracks
    assert abs(int(peak.argmax()) - 20) <= 6
    assert peak[:5].max() < peak.max() - 0.2


def wandering(animals: int = 4, frames: int = 60, seed: int = 0) -> PoseSet:
    """Animals on smooth random paths in a 640 x 480 video."""
    return animal_poses(SCHEMA, wandering_paths(animals, frames, speed=4.0, seed=seed), seed=seed)


def by_position(tracked: PoseSet) -> dict[tuple[int, float, float], int]:
    """Track id of every instance, keyed by its frame number and first joint (unique in these scenes)."""
    return {
        (int(f.frame_index or 0), float(kp[0, 0]), float(kp[0, 1])): int(t)
        for f in tracked.frames
        for kp, t in zip(f.keypoints, f.track, strict=True)
    }


def labels(tracked: PoseSet, orders: list[np.ndarray]) -> list[np.ndarray]:
    """Track ids back in the original instance order of every frame."""
    out = []
    for f, order in zip(tracked.frames, orders, strict=True):
        ids = np.empty_like(f.track)
        ids[order] = f.track
        out.append(ids)
    return out


def test_shuffled_instance_order_recovers_the_true_tracks() -> None:
    truth = wandering(seed=3)
    poses, orders = shuffled(truth, seed=0)
    tracked = track_poses(poses)
    assert same_partition(labels(tracked.poses, orders), [f.track for f in truth.frames])


def without(poses: PoseSet, animal: int, frames: range) -> PoseSet:
    """The set with one animal (instance `animal`) removed from some frames."""
    out = [
        f.select(np.arange(f.num_instances) != animal) if i in frames else f
        for i, f in enumerate(poses.frames)
    ]
    return replace(poses, frames=out)


def test_gap_within_window_keeps_the_id() -> None:
    truth = without(wandering(3, seed=1), animal=1, frames=range(20, 24))
    tracked = track_poses(truth, params={"window": 5})
    assert tracked.num_tracks == 3
    assert same_partition([f.track for f in tracked.poses.frames], [f.track for f in truth.frames])


def test_gap_beyond_window_starts_a_new_id_unless_max_tracks() -> None:
    truth = without(wandering(3, seed=1), animal=1, frames=range(20, 30))
    assert track_poses(truth, params={"window": 5}).num_tracks == 4
    capped = track_poses(truth, params={"window": 5, "max_tracks": 3})
    assert capped.num_tracks == 3
    assert same_partition([f.track for f in capped.poses.frames], [f.track for f in truth.frames])


def test_max_tracks_rejoins_a_track_after_a_long_gap_far_away() -> None:
    """Two animals; one vanishes for 30 frames and comes back far from where it was last predicted: with
    max_tracks=2 it must be the second animal, whatever the gate says."""
    t = np.arange(60, dtype=np.float64)
    first = np.stack([100 + 2 * t, 100 + 0 * t], axis=1)
    second = np.stack([500 + 0 * t, 100 + 5 * t], axis=1)
    truth = without(animal_poses(SCHEMA, np.stack([first, second]), seed=2), animal=1, frames=range(20, 50))
    assert track_poses(truth).num_tracks == 3
    capped = track_poses(truth, params={"max_tracks": 2})
    assert capped.num_tracks == 2
    assert same_partition([f.track for f in capped.poses.frames], [f.track for f in truth.frames])


def test_max_tracks_keeps_the_best_instances_and_counts_the_dropped() -> None:
    truth = wandering(2, frames=30, seed=4)
    rng = np.random.default_rng(0)
    frames = []
    for i, f in enumerate(truth.frames):
        score = np.array([0.9, 0.8])
        if i % 3 == 0:  # a spurious third detection, scored lower, somewhere else each time
            spurious = f.keypoints[:1].copy()
            spurious[..., :2] += rng.uniform(-200, 200, 2)
            f = Frame.build(
                f.id,
                f.width,
                f.height,
                np.concatenate([f.keypoints, spurious]),
                track=[0, 1, -1],
                user=False,
                instance_score=[0.9, 0.8, 0.3],
                video=0,
                frame_index=f.frame_index,
            )
        else:
            f = replace(f, instance_score=score, user=np.zeros(2, bool))
        frames.append(f)
    poses = replace(truth, frames=frames)
    tracked = track_poses(poses, params={"max_tracks": 2})
    assert tracked.dropped == 10
    assert tracked.num_tracks == 2
    assert all(f.num_instances == 2 for f in tracked.poses.frames)
    assert same_partition([f.track for f in tracked.poses.frames], [f.track[:2] for f in poses.frames])
    assert track_poses(poses).num_tracks > 2  # without the cap the spurious ones become tracks


def test_user_instances_are_kept_before_scored_predictions() -> None:
    kp = np.concatenate(
        [np.random.default_rng(0).uniform(0, 99, (3, 17, 2)), np.full((3, 17, 1), 2.0)], axis=2
    )
    frame = Frame.build(
        1, 100, 100, kp, instance_score=[0.9, np.nan, 0.95], user=[False, True, False], file_name="a.png"
    )
    tracked = track_poses(PoseSet(SCHEMA, [frame]), params={"max_tracks": 2})
    np.testing.assert_array_equal(tracked.poses.frames[0].keypoints, kp[[1, 2]])


def two_videos() -> tuple[PoseSet, PoseSet, PoseSet]:
    """Two videos of two animals each in one set, their frames interleaved, and each video alone."""
    a = wandering(2, frames=20, seed=5)
    b = wandering(2, frames=20, seed=6)
    b_frames = [replace(f, id=100 + f.id, video=1) for f in b.frames]
    mixed = [x for pair in zip(a.frames, b_frames, strict=True) for x in pair]
    videos = [VideoRef("a.mp4"), VideoRef("b.mp4")]
    return PoseSet(SCHEMA, mixed, tracks=["x", "y"], videos=videos), a, b


def test_videos_are_tracked_separately_with_distinct_tracks() -> None:
    both, a, b = two_videos()
    tracked = track_poses(both)
    assert tracked.sequences == ["video 0 (a.mp4)", "video 1 (b.mp4)"]
    assert tracked.reordered == []
    assert tracked.num_tracks == 4 and tracked.poses.tracks == [f"track_{i}" for i in range(4)]
    out = tracked.poses.frames
    assert [f.video for f in out] == [0] * 20 + [1] * 20
    assert {int(t) for f in out[:20] for t in f.track}.isdisjoint({int(t) for f in out[20:] for t in f.track})
    alone = track_poses(a).poses.frames
    assert same_partition([f.track for f in out[:20]], [f.track for f in alone])
    assert same_partition([f.track for f in out[20:]], [f.track for f in b.frames])


def test_frames_out_of_order_are_sorted_and_reported() -> None:
    truth = wandering(3, frames=30, seed=7)
    backwards = replace(truth, frames=truth.frames[::-1])
    tracked = track_poses(backwards)
    assert tracked.reordered == ["video 0 (synthetic.mp4)"]
    assert [f.frame_index for f in tracked.poses.frames] == list(range(30))
    assert same_partition([f.track for f in tracked.poses.frames], [f.track for f in truth.frames])


def test_image_series_is_ordered_by_id() -> None:
    truth = wandering(2, frames=10, seed=8)
    images = [replace(f, video=None, frame_index=None, file_name=f"{f.id}.png") for f in truth.frames]
    tracked = track_poses(replace(truth, frames=images[::-1], videos=[]))
    assert tracked.sequences == ["images"] and tracked.reordered == ["images"]
    assert [f.id for f in tracked.poses.frames] == list(range(10))


def test_duplicate_frame_numbers_are_an_error() -> None:
    truth = wandering(2, frames=5)
    frames = [*truth.frames, replace(truth.frames[2], id=99)]
    with pytest.raises(
        AegroupError, match=r"in\.slp: video 0 \(synthetic\.mp4\): field 'frame_index': frame 2"
    ):
        track_poses(replace(truth, frames=frames), source="in.slp")


def test_instance_without_joints_is_left_untracked() -> None:
    truth = wandering(2, frames=5)
    f = truth.frames[2]
    empty = np.zeros((1, 17, 3))
    frames = list(truth.frames)
    frames[2] = Frame.build(
        f.id, f.width, f.height, np.concatenate([f.keypoints, empty]), video=0, frame_index=2
    )
    tracked = track_poses(replace(truth, frames=frames))
    assert tracked.poses.frames[2].track[2] == -1 and np.isnan(tracked.doubt[2][2])
    assert tracked.num_tracks == 2


def teleporting(tags: bool) -> PoseSet:
    """Two animals that trade places every frame (a pose cost alone must swap them), with per-animal tags."""
    base = animal_poses(SCHEMA, np.array([[[200.0, 200.0]] * 6, [[300.0, 200.0]] * 6]), seed=0)
    frames = []
    for t, f in enumerate(base.frames):
        order = [0, 1] if t % 2 == 0 else [1, 0]
        kp = f.keypoints.copy()
        kp[:, :, :2] = f.keypoints[order, :, :2]  # positions traded, animals (rows) kept
        tag = np.stack([np.zeros((17, 1)), np.full((17, 1), 5.0)]) if tags else None
        frames.append(replace(f, keypoints=kp, tags=tag))
    return replace(base, frames=frames)


def test_tags_link_when_weighted() -> None:
    poses = teleporting(tags=True)
    truth = [f.track for f in poses.frames]
    by_pose = track_poses(poses, params={"max_tracks": 2})
    assert not same_partition([f.track for f in by_pose.poses.frames], truth)
    by_tag = track_poses(poses, params={"max_tracks": 2, "tag_weight": 1.0})
    assert same_partition([f.track for f in by_tag.poses.frames], truth)


def test_registry_and_params() -> None:
    assert available_trackers()[:2] == ["motion", "iou"]
    assert get_tracker("motion") is registry.TRACKERS["motion"]
    with pytest.raises(AegroupError, match=r"unknown tracker \(available: motion, iou"):
        get_tracker("kalman")
    with pytest.raises(AegroupError, match=r"method 'motion': field 'window'"):
        track_poses(wandering(2, frames=3), params={"window": 0})
    with pytest.raises(AegroupError, match=r"method 'motion': field 'nonsense'"):
        track_poses(wandering(2, frames=3), params={"nonsense": 1})
    tracked = track_poses(wandering(2, frames=3), "motion", TrackParams(max_tracks=1))
    assert tracked.dropped == 3 and tracked.num_tracks == 1
    with pytest.raises(AegroupError, match=r"method 'iou': field 'tag_weight'"):
        track_poses(wandering(2, frames=3), "iou", {"tag_weight": 1})


class EveryoneIsZero:
    """A plugin that breaks the contract: one id for every instance."""

    Params = TrackParams

    def __call__(self, frames: list[TrackFrame], params: TrackParams) -> TrackResult:
        return TrackResult(
            [np.zeros(f.num_instances, np.int64) for f in frames], [np.zeros(f.num_instances) for f in frames]
        )


class ByOrder:
    """A plugin that trusts the instance order: instance i is track i."""

    Params = TrackParams

    def __call__(self, frames: list[TrackFrame], params: TrackParams) -> TrackResult:
        return TrackResult(
            [np.arange(f.num_instances) for f in frames], [np.full(f.num_instances, np.nan) for f in frames]
        )


def fake_entry_point(name: str, obj: object) -> SimpleNamespace:
    """What `importlib.metadata` would give for an installed plugin."""

    def load() -> object:
        if isinstance(obj, Exception):
            raise obj
        return obj

    return SimpleNamespace(name=name, value=f"plugin_pkg:{name}", load=load)


def test_plugins_are_loaded_lazily_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = {
        "by_order": fake_entry_point("by_order", ByOrder()),
        "zero": fake_entry_point("zero", EveryoneIsZero()),
        "broken": fake_entry_point("broken", ImportError("no module named plugin_pkg")),
        "not_one": fake_entry_point("not_one", 42),
    }
    monkeypatch.setattr(registry, "plugin_trackers", lambda: plugins)
    assert available_trackers() == ["motion", "iou", "broken", "by_order", "not_one", "zero"]
    truth = wandering(2, frames=5)
    tracked = track_poses(truth, "by_order")
    assert [list(f.track) for f in tracked.poses.frames] == [[0, 1]] * 5
    with pytest.raises(AegroupError, match="method 'zero': frame 0: a track id is given to two instances"):
        track_poses(truth, "zero")
    with pytest.raises(AegroupError, match="method 'broken': cannot load plugin plugin_pkg:broken"):
        get_tracker("broken")
    with pytest.raises(AegroupError, match="method 'not_one': plugin plugin_pkg:not_one is not a tracker"):
        get_tracker("not_one")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    animals=st.integers(1, 5),
    method=st.sampled_from(["motion", "iou"]),
    max_tracks=st.one_of(st.none(), st.integers(1, 5)),
)
def test_instance_order_never_changes_the_partition(
    seed: int, animals: int, method: str, max_tracks: int | None
) -> None:
    truth = wandering(animals, frames=25, seed=seed)
    rng = np.random.default_rng(seed)
    frames = [  # some animals missing; distinct scores, so that which ones max_tracks keeps is clear
        replace(f, instance_score=rng.random(f.num_instances), user=np.zeros(f.num_instances, bool)).select(
            rng.random(f.num_instances) < 0.85
        )
        for f in truth.frames
    ]
    poses = replace(truth, frames=frames)
    params = {"max_tracks": max_tracks}
    a = track_poses(shuffled(poses, seed)[0], method, params)
    b = track_poses(shuffled(poses, seed + 1)[0], method, params)
    tracks_a, tracks_b = by_position(a.poses), by_position(b.poses)
    assert tracks_a.keys() == tracks_b.keys()
    assert same_partition([np.array(list(tracks_a.values()))], [np.array([tracks_b[k] for k in tracks_a])])
    assert a.dropped == b.dropped
    for result in (a, b):
        if max_tracks is not None:
            assert result.num_tracks <= max_tracks
        for f, d in zip(result.poses.frames, result.doubt, strict=True):
            assert len(set(f.track.tolist())) == f.num_instances
            assert ((d >= 0) & (d <= 1)).all()


@pytest.mark.skipif("slp" not in FORMATS, reason="this tree has no .slp reader yet (aegroup.io.formats)")
def test_real_fly_clip_shuffled_has_no_switch() -> None:
    """The people-labelled 2-fly clip, track ids removed and order shuffled: both trackers recover it."""
    path = real_data_root() / "sleap" / "clip.slp"
    if not path.is_file():
        pytest.skip(f"real test data not found at {path} (set AEGROUP_TEST_DATA to the shared data folder)")
    truth = load_poses(path)
    poses, orders = shuffled(truth, seed=0)
    for method in ("motion", "iou"):
        tracked = track_poses(poses, method)
        scores = evaluate_tracking(truth_of(truth, orders), tracked.poses)
        assert (tracked.num_tracks, scores.switches, scores.idf1) == (2, 0, 1.0)


def test_the_documented_plugin_example_tracks() -> None:
    """The tracker written out in docs/tracking.md ("Writing your own tracker") runs as printed."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "tracking.md").read_text()
    section = text.split("## Writing your own tracker", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/tracking.md", "exec"), namespace)
    t = np.arange(30.0)
    lanes = np.stack([np.stack([50 + 5 * t, np.full(30, y)], axis=1) for y in (100.0, 250.0, 400.0)])
    truth = animal_poses(SCHEMA, lanes, seed=0)  # three animals in lanes, far apart
    poses, orders = shuffled(truth, seed=0)
    tracked = track_poses(poses, namespace["nearest"])  # type: ignore[arg-type]
    assert tracked.num_tracks == 3
    assert same_partition(labels(tracked.poses, orders), [f.track for f in truth.frames])


@pytest.mark.parametrize("method", ["motion", "iou"])
@pytest.mark.parametrize("max_tracks", [None, 2, 3])
def test_doubt_of_given_tracks_replays_the_tracker(method: str, max_tracks: int | None) -> None:
    """Scoring the tracker's own answer gives back the doubts it reported, NaN for NaN."""
    truth = without(wandering(3, seed=1), animal=1, frames=range(20, 30))
    tracked = track_poses(shuffled(truth, seed=0)[0], method, {"max_tracks": max_tracks})
    replayed = track_doubt(tracked.poses, method, {"max_tracks": max_tracks})
    for again, first in zip(replayed, tracked.doubt, strict=True):
        np.testing.assert_allclose(again, first, atol=1e-12)


def test_a_wrong_swap_is_flagged_where_it_happens() -> None:
    tracked = track_poses(shuffled(crossing(90), seed=0)[0])
    swapped = [replace(f, track=1 - f.track) if i >= 30 else f for i, f in enumerate(tracked.poses.frames)]
    doubt = [d.max() for d in track_doubt(replace(tracked.poses, frames=swapped))]
    assert doubt[30] == 1.0
    assert max(doubt[:30]) < 0.2 and max(doubt[32:]) < 0.2  # after the swap the tracks go on as given


def test_doubt_of_given_tracks_checks_its_input(monkeypatch: pytest.MonkeyPatch) -> None:
    truth = wandering(2, frames=5)
    frames = list(truth.frames)
    frames[3] = replace(frames[3], track=np.array([1, 1]))
    with pytest.raises(
        AegroupError, match=r"in\.slp: frame 3: field 'track': one track given to two instances"
    ):
        track_doubt(replace(truth, frames=frames), source="in.slp")
    images = replace(
        truth, frames=[replace(f, video=None, frame_index=None, file_name="x.png") for f in truth]
    )
    assert [len(d) for d in track_doubt(images)] == [2] * 5
    monkeypatch.setattr(
        registry, "plugin_trackers", lambda: {"by_order": fake_entry_point("by_order", ByOrder())}
    )
    with pytest.raises(AegroupError, match="method 'by_order': can track but not score given tracks"):
        track_doubt(truth, "by_order")

"""PoseSet / Frame: absent joints, checks, instance selection, boxes, --video re-pointing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from aegroup.errors import AegroupError
from aegroup.io.poses import (
    BOX_MIN_PAD,
    NO_TRACK,
    Frame,
    PoseSet,
    VideoRef,
    instance_box,
    prefer_user_instances,
    repoint_videos,
    stored_path,
)
from aegroup.schema import PoseSchema

SCHEMA = PoseSchema(name="s", joints=["a", "b", "c"])


def frame(**kw: object) -> Frame:
    kp = [[[1, 2, 2], [3, 4, 0], [5, 6, 1]], [[7, 8, 2], [0, 0, 0], [9, 9, 2]]]
    args: dict = {"file_name": "x.png"} | kw
    return Frame.build(1, 20, 10, kp, **args)


def test_build_fills_defaults_and_makes_absent_joints_nan() -> None:
    f = frame()
    assert f.num_instances == 2
    assert np.isnan(f.keypoints[0, 1, :2]).all() and f.keypoints[0, 1, 2] == 0
    assert np.isnan(f.keypoints[1, 1, :2]).all()  # (0, 0, 0) is absent, never a point at the origin
    np.testing.assert_array_equal(f.present(), [[True, False, True], [True, False, True]])
    assert np.isnan(f.scores).all() and np.isnan(f.instance_score).all()
    assert (f.track == NO_TRACK).all() and f.user.all() and f.tags is None
    with pytest.raises(ValueError, match=r"\(N, K, 3\)"):
        Frame.build(1, 2, 2, [[1, 2, 3]])


def test_select_keeps_rows_of_every_array() -> None:
    f = frame(track=[0, 1], user=[True, False], scores=np.arange(6).reshape(2, 3), tags=np.ones((2, 3, 2)))
    g = f.select([1])
    assert g.num_instances == 1 and g.track.tolist() == [1] and g.user.tolist() == [False]
    np.testing.assert_array_equal(g.scores, [[3, 4, 5]])
    assert g.tags is not None and g.tags.shape == (1, 3, 2)
    assert f.select(f.user).track.tolist() == [0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"track": np.array([0, 5])}, "field 'track' 5 is not one of 1 tracks"),
        ({"video": 3, "file_name": None}, "field 'video' 3 is not one of 0 videos"),
        ({"file_name": None}, "has neither 'file_name' nor 'video'"),
        ({"scores": np.zeros((2, 2))}, "field 'scores' has shape"),
        ({"user": np.ones(3, bool)}, "field 'user' has shape"),
        ({"keypoints": np.full((2, 3, 3), 5.0)}, "visibility flag outside"),
        ({"keypoints": np.full((2, 3, 3), [np.nan, 1.0, 2.0])}, "without finite x, y"),
    ],
)
def test_check_names_the_source_and_field(change: dict, message: str) -> None:
    poses = PoseSet(SCHEMA, [replace(frame(), **change)], tracks=["t"])
    with pytest.raises(AegroupError, match=message) as err:
        poses.check("labels.slp")
    assert str(err.value).startswith("labels.slp: frame 1")


def test_check_rejects_duplicate_ids_and_passes_good_sets() -> None:
    good = PoseSet(SCHEMA, [frame(), replace(frame(), id=2)])
    assert good.check() is good and len(good) == 2 and good.num_instances == 4
    with pytest.raises(AegroupError, match="'id' is duplicated"):
        PoseSet(SCHEMA, [frame(), frame()]).check()


def test_prefer_user_instances() -> None:
    mixed = frame(user=[True, False])
    predicted = replace(frame(user=False), id=2)
    out = prefer_user_instances(PoseSet(SCHEMA, [mixed, predicted]))
    assert out.frames[0].num_instances == 1 and out.frames[0].user.all()
    assert out.frames[1].num_instances == 2  # a frame of predictions only keeps them


def test_instance_box_pads_and_clips() -> None:
    kp = np.array([[10.0, 5.0, 2], [30.0, 9.0, 1], [np.nan, np.nan, 0]])
    x, y, w, h = instance_box(kp, 100, 100)
    assert (x, y, w, h) == pytest.approx((6.0, 1.0, 28.0, 12.0))  # 10 % of 20 px is under the 4 px floor
    assert BOX_MIN_PAD == 4.0
    big = np.array([[100.0, 100.0, 2], [200.0, 150.0, 2]])
    assert instance_box(big, 400, 400) == pytest.approx((90.0, 90.0, 120.0, 70.0))  # 10 % of 100 px
    x, y, w, h = instance_box(np.array([[1.0, 1.0, 2]]), 50, 40)
    assert (x, y) == (0.0, 0.0) and (w, h) == pytest.approx((5.0, 5.0))  # clipped at the image edge
    assert instance_box(np.array([[np.nan, np.nan, 0]]), 5, 5) == (0.0, 0.0, 0.0, 0.0)
    x, y, w, h = instance_box(np.array([[-50.0, -50.0, 2]]), 10, 10)  # outside: the unclipped box
    assert w > 0 and h > 0


def test_repoint_videos(tmp_path: Path) -> None:
    real = tmp_path / "real.mp4"
    real.write_bytes(b"x")
    one = [VideoRef("gone.mp4", 4, 4, 10)]
    assert repoint_videos(one, real, "f.slp")[0] == VideoRef(str(real), 4, 4, 10)
    assert repoint_videos(one, None, "f.slp") is one
    two = [VideoRef(str(real)), VideoRef("gone.mp4")]
    assert repoint_videos(two, real, "f.slp")[1].path == str(real)
    with pytest.raises(AegroupError, match="ambiguous"):
        repoint_videos([VideoRef("a.mp4"), VideoRef("b.mp4")], real, "f.slp")
    with pytest.raises(AegroupError, match="refers to no video"):
        repoint_videos([], real, "f.slp")
    with pytest.raises(AegroupError, match="--video: file not found"):
        repoint_videos(one, tmp_path / "nope.mp4", "f.slp")
    assert stored_path("clip.mp4", tmp_path) == str(tmp_path / "clip.mp4")
    assert stored_path("/abs/clip.mp4", tmp_path) == "/abs/clip.mp4"

"""SLEAP .slp files: the shared real clip, predicted instances, moved videos, damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import real_data_root
from posesets import critter, synthetic_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import load_poses, read_schema, save_poses
from aegroup.io.poses import PoseSet

sio = pytest.importorskip("sleap_io")


@pytest.fixture(scope="module")
def clip() -> Path:
    path = real_data_root() / "sleap" / "clip.slp"
    if not path.is_file():
        pytest.skip(f"real test data not found at {path} (set AEGROUP_TEST_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="module")
def clip_poses(clip: Path) -> PoseSet:
    return load_poses(clip)


def test_clip_as_sleap_io_reads_it(clip: Path, clip_poses: PoseSet) -> None:
    labels = sio.load_slp(str(clip), open_videos=False)
    assert (len(clip_poses), clip_poses.num_instances) == (1500, 3000)
    assert clip_poses.tracks == ["female", "male"]
    assert clip_poses.schema.joints == labels.skeleton.node_names
    # The .slp stores 'clip.mp4' relative to where it was recorded: found beside the .slp.
    video = clip_poses.videos[0]
    assert Path(video.path).resolve() == (clip.parent / "clip.mp4").resolve()
    assert (video.width, video.height, video.frames) == (1024, 1024, 1500)
    for n in (0, 700, 1499):
        lf, f = labels.labeled_frames[n], clip_poses.frames[n]
        assert f.frame_index == lf.frame_idx and f.user.all()
        for inst, kp, track in zip(lf.instances, f.keypoints, f.track, strict=True):
            np.testing.assert_array_equal(kp[:, :2], inst.numpy())  # NaN where SLEAP has no point
            assert clip_poses.tracks[track] == inst.track.name
    absent = sum(int((~f.present()).sum()) for f in clip_poses.frames)
    assert absent == sum(int(np.isnan(i.numpy()[:, 0]).sum()) for lf in labels for i in lf.instances) > 0


def test_clip_schema_pairs_left_right_suffixes(clip: Path) -> None:
    schema = read_schema(clip)
    assert ("wingL", "wingR") in schema.flip_pairs and ("hindlegL4", "hindlegR4") in schema.flip_pairs
    assert len(schema.flip_pairs) == 5 and len(schema.edges) == 12


def test_stored_symmetries_win_over_names(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=1)
    path = save_poses(poses, tmp_path / "x.slp")
    labels = sio.load_slp(str(path), open_videos=False)
    assert sorted(map(sorted, labels.skeleton.symmetry_names)) == sorted(map(sorted, critter().flip_pairs))
    # A symmetry no name suggests is kept as stored.
    labels.skeleton.symmetries = []
    labels.skeleton.add_symmetry("snout", "tail_tip")
    sio.save_slp(labels, str(tmp_path / "y.slp"), verbose=False)
    assert read_schema(tmp_path / "y.slp").flip_pairs == [("snout", "tail_tip")]


def test_predicted_instances_round_trip_with_scores(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=3)
    path = save_poses(poses, tmp_path / "p.slp")
    labels = sio.load_slp(str(path), open_videos=False)
    last, frame = labels.labeled_frames[-1], poses.frames[-1]
    assert all(type(i).__name__ == "PredictedInstance" for i in last.instances)
    assert [i.score for i in last.instances] == pytest.approx(frame.instance_score.tolist())
    np.testing.assert_allclose(last.instances[0].points["score"], frame.scores[0])
    assert all(type(i).__name__ == "Instance" for i in labels.labeled_frames[0].instances)
    # An occluded joint is a placed point marked not visible, as SLEAP's GUI stores it.
    i = next(i for i, f in enumerate(poses.frames) if (f.keypoints[..., 2] == 1).any())
    n, k = np.argwhere(poses.frames[i].keypoints[..., 2] == 1)[0]
    point = labels.labeled_frames[i].instances[n].points[k]
    assert not point["visible"] and np.allclose(point["xy"], poses.frames[i].keypoints[n, k, :2])


def test_schema_option_reorders_joints(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=1, predicted=False)
    path = save_poses(poses, tmp_path / "x.slp")
    reordered = critter().model_copy(update={"joints": list(reversed(critter().joints))})
    back = load_poses(path, schema=reordered)
    assert back.schema.joints == reordered.joints
    np.testing.assert_array_equal(back.frames[0].keypoints[:, ::-1], poses.frames[0].keypoints)
    other = critter().model_copy(update={"joints": ["a", *critter().joints[1:]]})
    with pytest.raises(AegroupError, match="field 'skeleton'"):
        load_poses(path, schema=other)


def test_moved_video_needs_and_takes_video_option(clip: Path, tmp_path: Path) -> None:
    moved = tmp_path / "clip.slp"
    shutil.copyfile(clip, moved)  # a copy in a temporary folder, without its video
    with pytest.raises(AegroupError) as err:
        load_poses(moved)
    assert "clip.mp4" in str(err.value) and "--video" in str(err.value) and "\n" not in str(err.value)
    poses = load_poses(moved, video=clip.parent / "clip.mp4")
    assert poses.videos[0].path == str(clip.parent / "clip.mp4") and len(poses) == 1500


def test_damaged_slp_files_are_one_line_errors(clip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.slp"
    cut.write_bytes(clip.read_bytes()[:200_000])
    junk = tmp_path / "junk.slp"
    junk.write_bytes(b"not hdf5 at all" * 100)
    for path in (cut, junk):
        with pytest.raises(AegroupError, match="not a readable SLEAP file") as err:
            load_poses(path)
        assert "\n" not in str(err.value)


def test_pkg_slp_with_embedded_frames(tmp_path: Path) -> None:
    from PIL import Image
    from posesets import frame_number, video_poses

    poses = video_poses(tmp_path / "v")
    labels = sio.load_slp(str(save_poses(poses, tmp_path / "labels.slp")))
    pkg = tmp_path / "labels.pkg.slp"
    sio.save_slp(labels, str(pkg), embed="user", verbose=False)
    # With its source video found, a .pkg.slp reads as labels on that video.
    assert load_poses(pkg).videos[0].dataset is None
    Path(poses.videos[0].path).unlink()
    embedded = load_poses(pkg)
    assert embedded.videos[0].dataset is not None and embedded.videos[0].path == str(pkg)
    assert [f.frame_index for f in embedded.frames] == [f.frame_index for f in poses.frames]
    out = save_poses(embedded, tmp_path / "out" / "x.json")
    back = load_poses(out)
    for f in back.frames:  # each PNG is the embedded image of its frame
        assert (
            frame_number(np.asarray(Image.open(back.image_dir / f.file_name).convert("RGB"))) == f.frame_index
        )
    # Written again as .slp, the frames still point into the package.
    again = load_poses(save_poses(embedded, tmp_path / "again.slp"))
    assert again.videos[0].dataset == embedded.videos[0].dataset

"""Labelled-frame sources: video frames decoded on demand (workers too) give exactly the items of PNGs."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PREDICTED_ONLY, UNLABELLED, VIDEO_FRAMES
from torch.utils.data import DataLoader

from aegroup.data import AugmentConfig, CocoPoseDataset, PoseDataset, collate
from aegroup.data.sources import PoseSetFrames
from aegroup.errors import AegroupError
from aegroup.eval import evaluate
from aegroup.io.coco import write_poses
from aegroup.io.poses import PoseSet, VideoRef
from aegroup.training.loaders import SeededSamples

pytest.importorskip("av")

STRONG = AugmentConfig(scale_min=0.7, scale_max=1.3, rotation=40, translate=0.1, flip_prob=0.5)


def items(dataset: PoseDataset, seed: int = 0) -> list[dict]:
    """Every item of the dataset, each drawn with torch seeded from (seed, index)."""
    out = []
    for index in range(len(dataset)):
        torch.manual_seed(seed * 1000 + index)
        out.append(dataset[index])
    return out


def assert_same_items(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for key in ("image", "heatmaps", "mask", "joints"):
            assert torch.equal(x[key], y[key]), key
        assert x["meta"]["image_id"] == y["meta"]["image_id"]
        np.testing.assert_array_equal(x["meta"]["affine"], y["meta"]["affine"])


@pytest.mark.parametrize("train", [True, False])
def test_video_frames_give_exactly_the_items_of_the_same_frames_as_pngs(synth_video, train: bool) -> None:
    video, pngs, _ = synth_video
    from_video = PoseSetFrames(video, video.image_dir or Path("."))
    from_pngs = PoseSetFrames(pngs, pngs.image_dir)
    expected_ids = [100 + j for j in range(VIDEO_FRAMES) if j not in (*UNLABELLED, PREDICTED_ONLY)]
    assert from_video.frame_ids == from_pngs.frame_ids == expected_ids
    kwargs = {"train": train, "input_size": 64, "max_instances": 4, "augment": STRONG}
    reference = items(PoseDataset(from_pngs, **kwargs))
    assert_same_items(items(PoseDataset(from_video, **kwargs)), reference)
    # Preloaded frames (kept as one channel when grey) read back the same.
    from_video.preload()
    assert from_video.videos.cached_frames == len(expected_ids)
    assert_same_items(items(PoseDataset(from_video, **kwargs)), reference)
    if train:
        assert any(np.linalg.det(item["meta"]["affine"][:, :2]) < 0 for item in reference)  # flips drawn


def test_png_frames_give_the_items_of_the_same_labels_as_a_coco_file(synth_video, tmp_path: Path) -> None:
    _, pngs, _ = synth_video
    users = replace(pngs, frames=[f.select(f.user) for f in pngs if f.user.any()])
    ann = write_poses(users, tmp_path / "labels.json", frames_dir=None)
    coco = CocoPoseDataset(ann, pngs.image_dir, pngs.schema, train=True, input_size=64, augment=STRONG)
    poses = PoseDataset(PoseSetFrames(pngs, pngs.image_dir), train=True, input_size=64, augment=STRONG)
    assert_same_items(items(poses, seed=3), items(coco, seed=3))


def test_predictions_are_neither_learnt_nor_masked(synth_video) -> None:
    video, _, _ = synth_video
    frames = PoseSetFrames(video, Path("."))
    third = frames.frame_ids.index(103)
    labelled = video.frames[[f.id for f in video].index(103)]
    assert len(frames.instances(third)) == int(labelled.user.sum()) == labelled.num_instances - 1
    np.testing.assert_array_equal(frames.instances(third), np.nan_to_num(labelled.keypoints[labelled.user]))
    assert frames.ignore_region(third, (128, 128)) is None
    assert 100 + PREDICTED_ONLY not in frames.frame_ids


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_loader_workers_decode_video_frames_like_one_process(synth_video, context: str) -> None:
    video, _, _ = synth_video
    dataset = SeededSamples(PoseDataset(PoseSetFrames(video, Path(".")), True, 64, augment=STRONG), seed=5)
    keys = [(1, i, 0) for i in (7, 0, 3, 11, 4, 9, 1, 10, 2, 8, 5, 6)]
    single = [dataset[key] for key in keys]  # this process has its readers open before the workers start
    loader = DataLoader(
        dataset,
        batch_size=3,
        sampler=keys,
        num_workers=2,
        collate_fn=collate,
        multiprocessing_context=context,
    )
    batched = collate(single)
    start = 0
    for batch in loader:
        stop = start + len(batch["meta"])
        for key in ("image", "heatmaps", "mask", "joints"):
            assert torch.equal(batch[key], batched[key][start:stop]), key
        start = stop
    assert start == len(keys)


def test_frame_range_keeps_the_labelled_frames_inside(synth_video) -> None:
    video, pngs, _ = synth_video
    frames = PoseSetFrames(video, Path("."))
    frames.restrict(4, 12)
    assert frames.frame_ids == [104, 107, 108, 110, 111]
    frames = PoseSetFrames(video, Path("."))
    frames.restrict(10, None)
    assert frames.frame_ids == [110, 111, 112, 113, 114, 115]
    for start, stop, problem in [
        (10, 17, r"\[10, 17\) is not a range within .*clip\.mp4 \(0 to 16 frames\)"),
        (16, None, "is not a range within"),
        (5, 7, r"\[5, 7\) holds none of the 12 labelled frames"),
    ]:
        with pytest.raises(AegroupError, match=problem):
            PoseSetFrames(video, Path(".")).restrict(start, stop)
    with pytest.raises(AegroupError, match="holds image files; a frame range needs video frames"):
        PoseSetFrames(pngs, pngs.image_dir).restrict(0, 4)


def test_missing_video_and_frames_past_its_end(synth_video, tmp_path: Path) -> None:
    video, _, clip = synth_video
    moved = replace(video, videos=[VideoRef("gone.mp4")])
    with pytest.raises(AegroupError) as err:
        PoseSetFrames(moved, tmp_path / "labels.slp")
    assert str(err.value) == (
        f"{tmp_path / 'gone.mp4'}: video file not found (named by {tmp_path / 'labels.slp'}; "
        "give its location as 'video')"
    )
    # A relative video path is relative to the labels file's folder.
    relative = replace(video, videos=[VideoRef(clip.name)])
    assert len(PoseSetFrames(relative, clip.parent / "labels.slp")) == len(PoseSetFrames(video, Path(".")))
    late = replace(video, frames=[replace(video.frames[0], frame_index=40), *video.frames[1:]])
    with pytest.raises(AegroupError, match=r"frame 100: frame index 40 is outside .*clip\.mp4 \(16 frames\)"):
        PoseSetFrames(late, Path("labels.slp"))
    with pytest.warns(UserWarning, match="skipped 1 of 12 images"):
        assert len(PoseSetFrames(late, Path("labels.slp"), skip_bad_images=True)) == 11


def test_ground_truth_scores_the_labels_perfectly(synth_video) -> None:
    video, _, _ = synth_video
    frames = PoseSetFrames(video, Path("."))
    truth = frames.ground_truth()
    assert [i["id"] for i in truth["images"]] == frames.frame_ids
    assert truth["images"][0]["file_name"].endswith("clip.mp4#0")
    results = [
        {"image_id": fid, "keypoints": [float(v) for v in kp.reshape(-1)], "score": 1.0}
        for i, fid in enumerate(frames.frame_ids)
        for kp in frames.instances(i)
    ]
    assert len(truth["annotations"]) == len(results) > 0
    assert evaluate(truth, results, video.schema)["AP"] == pytest.approx(1.0)
    shifted = [
        dict(r, keypoints=[v + 4.0 * (i % 3 < 2) for i, v in enumerate(r["keypoints"])]) for r in results
    ]
    assert evaluate(truth, shifted, video.schema)["AP"] < 0.9


def test_empty_pose_set_has_no_frames(synth_video) -> None:
    video, _, _ = synth_video
    empty = PoseSet(video.schema, [f.select(np.zeros(0, int)) for f in video.frames], videos=video.videos)
    assert len(PoseSetFrames(empty, Path("."))) == 0


def test_grey_frames_are_cached_as_one_channel(tmp_path: Path) -> None:
    from conftest import encode_video

    from aegroup.data.video_frames import VideoFrames
    from aegroup.io.video import VideoReader

    rng = np.random.default_rng(0)
    grey = [np.repeat(rng.integers(0, 256, (32, 48, 1), dtype=np.uint8), 3, axis=2) for _ in range(6)]
    clip = encode_video(tmp_path / "grey.mp4", grey, gop=3)
    frames = VideoFrames({0: VideoReader(clip)})
    expected = [frames.read(0, i) for i in range(6)]
    assert all((e[..., 0] == e[..., 1]).all() and (e[..., 1] == e[..., 2]).all() for e in expected)
    frames.preload([(0, 4), (0, 1), (0, 4)])
    assert frames.cached_frames == 2 and frames.cached_bytes == 2 * 32 * 48
    for i in (1, 4):
        np.testing.assert_array_equal(frames.read(0, i), expected[i])


def test_frames_embedded_in_a_pkg_slp_give_the_items_of_the_video(synth_video, tmp_path: Path) -> None:
    sio = pytest.importorskip("sleap_io")
    from aegroup.io.formats import load_poses, save_poses

    video, _, clip = synth_video
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(clip, copy)
    moved = replace(video, videos=[replace(video.videos[0], path=str(copy))])
    labels = sio.load_slp(str(save_poses(moved, tmp_path / "labels.slp")))
    pkg = tmp_path / "labels.pkg.slp"
    sio.save_slp(labels, str(pkg), embed="user", verbose=False)
    copy.unlink()  # the source video is gone: frames come from the package
    embedded = load_poses(pkg)
    assert embedded.videos[0].dataset is not None
    kwargs = {"train": False, "input_size": 64, "max_instances": 4}
    from_pkg = PoseSetFrames(embedded, pkg)
    from_video = PoseSetFrames(video, clip)
    assert from_pkg.frame_ids and len(from_pkg.frame_ids) == len(from_video.frame_ids)
    # PNG-embedded frames are lossless copies of the decoded video frames.
    for a, b in zip(
        items(PoseDataset(from_pkg, **kwargs)), items(PoseDataset(from_video, **kwargs)), strict=True
    ):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["heatmaps"], b["heatmaps"])

"""The loop benchmark's pipeline, tiny, on synthetic data: train, predict, rank, correct, export, fine-tune
from the weak model on two sources, evaluate (benchmarks/bench_loop.py --preset smoke)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import real_data_root

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_the_loop_runs_end_to_end_on_synthetic_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_loop

    out = tmp_path / "loop"
    args = ["--preset", "smoke", "--dataset", "synth", "--out", str(out), "--set", "budgets=[0.3]"]
    assert bench_loop.main(args) == 0
    figures = json.loads((out / "loop.json").read_text())
    result = figures["datasets"]["synth"]
    assert [r["weak_seed"] for r in result["replicas"]] == [0]
    replica = result["replicas"][0]
    budget = 3  # 0.3 of the 10 pool images
    assert set(replica["runs"]) == {
        "none@0#0",
        *(f"{s}@{budget}#0" for s in ("doubt", "tag", "oracle", "random-1")),
    }
    assert all(0.0 <= ap <= 1.0 for ap in replica["runs"].values())
    assert result["summary"][0]["budget"] == budget
    # The corrections went through the project and `export --only edited`: exactly the picked images,
    # holding the true instances.
    root = out / "synth" / "weak-seed-0"
    truth = json.loads((out / "synth" / "data" / "pool" / "annotations.json").read_text())
    picked = json.loads((root / "corrections-oracle-3" / "corrections.json").read_text())
    ids = [im["id"] for im in picked["images"]]
    assert len(ids) == budget
    for image_id in ids:
        want = [a for a in truth["annotations"] if a["image_id"] == image_id and a["num_keypoints"]]
        got = [a for a in picked["annotations"] if a["image_id"] == image_id]
        assert len(got) == len(want)
        assert sorted(a["num_keypoints"] for a in got) == sorted(a["num_keypoints"] for a in want)
    # The fine-tune starts from the weak model and mixes the labelled subset with the corrections.
    config = yaml.safe_load((root / f"tune-oracle-{budget}-s0" / "train.yaml").read_text())
    assert Path(config["init_from"]).parent == root / "weak"
    assert [Path(s["ann_file"]).name for s in config["train"]] == ["annotations.json", "corrections.json"]
    errors = replica["picked_error"]
    assert errors[f"oracle@{budget}"] == max(v for k, v in errors.items() if k.endswith(f"@{budget}"))
    assert np.isfinite(list(errors.values())).all()


def test_the_summary_averages_each_replica_first_and_pairs_doubt_with_random(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_loop

    def replica(doubt: float, randoms: list[float]) -> dict[str, object]:
        runs = {"none@0#0": 0.1, "doubt@5#0": doubt, "tag@5#0": 0.2, "oracle@5#0": 0.9}
        runs |= {f"random-{i}@5#0": ap for i, ap in enumerate(randoms)}
        return {"weak_seed": 0, "AP_before": 0.0, "picked_error": {}, "runs": runs}

    result = {"replicas": [replica(0.5, [0.2, 0.4]), replica(0.3, [0.4, 0.6])]}
    [row] = bench_loop.summary(result)
    # Written out: replica 1 random 0.3, replica 2 random 0.5; doubt - random = +0.2 and -0.2.
    assert row["random"] == pytest.approx(0.4)
    assert row["doubt"] == pytest.approx(0.4)
    assert row["doubt_minus_random_each"] == pytest.approx([0.2, -0.2])
    assert row["doubt_above_random"] == 1
    assert row["random_runs"] == 4
    assert row["random_sd"] == pytest.approx(np.std([0.2, 0.4, 0.4, 0.6]), abs=1e-4)
    assert row["doubt_gap_closed"] == pytest.approx(0.0)


@pytest.mark.parametrize("whole_video", [False, True])
def test_the_fly_splits_keep_test_frames_away_from_the_pool_and_the_labelled_subset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_video: bool
) -> None:
    if not (real_data_root() / "sleap" / "clip.slp").is_file():
        pytest.skip(f"real test data not found at {real_data_root() / 'sleap'} (set AEGROUP_TEST_DATA)")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import loop_data

    sizes = {"labelled": 5, "pool": 24, "test": 8}
    data = loop_data.fly_data(tmp_path, sizes, crop=256, whole_video=whole_video)
    assert data.name == ("fly-video" if whole_video else "fly") and data.kind == "fly"
    # Image ids are frame index + 1.
    frames = {
        name: [im["id"] - 1 for im in json.loads(split.ann_file.read_text())["images"]]
        for name, split in data.splits.items()
    }
    assert {name: len(f) for name, f in frames.items()} == sizes
    assert max(frames["labelled"]) < 1000
    assert not set(frames["labelled"]) & (set(frames["pool"]) | set(frames["test"]))
    gap = min(abs(p - t) for p in frames["pool"] for t in frames["test"])
    assert gap > 5
    start = 0 if whole_video else 1000
    assert min(frames["pool"] + frames["test"]) >= start
    # The whole-video pool holds frames of the still part and of the moving part alike.
    assert (min(frames["pool"]) < 1000) == whole_video
    assert max(frames["pool"]) >= 1000


def test_part_aps_scores_each_part_of_the_held_out_frames_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import loop_data
    import loop_train

    from aegroup.io.results import build_results, save_results
    from aegroup.schema import load_schema

    data = loop_data.synth_data(tmp_path / "data", {"labelled": 1, "pool": 1, "test": 4}, size=64)
    truth = json.loads(data.splits["test"].ann_file.read_text())
    ids = sorted(im["id"] for im in truth["images"])
    data = dataclasses.replace(data, parts={"right": frozenset(ids[:2]), "wrong": frozenset(ids[2:])})
    annotations = []
    for a in truth["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        kp[:, 2] = kp[:, 2] > 0
        if a["image_id"] in data.parts["wrong"]:
            kp[:, :2] += 40.0  # far from every true joint
        annotations.append({"image_id": a["image_id"], "keypoints": kp.ravel().tolist(), "score": 1.0})
    results = tmp_path / "results.json"
    save_results(results, build_results(load_schema(data.schema_file), truth["images"], annotations))
    assert loop_train.part_aps(data, results) == {"right": pytest.approx(1.0), "wrong": pytest.approx(0.0)}
    assert loop_train.part_aps(dataclasses.replace(data, parts={}), results) == {}


def test_the_part_lines_average_each_replica_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_loop

    def parts(still: float, randoms: list[float]) -> dict[str, dict[str, float]]:
        out = {"before": {"still": still, "moving": 0.1}, "doubt@5#0": {"still": still, "moving": 0.5}}
        return out | {f"random-{i}@5#0": {"still": 0.9, "moving": ap} for i, ap in enumerate(randoms)}

    replicas = [{"parts": parts(0.8, [0.2, 0.4])}, {"parts": parts(0.6, [0.6])}]
    # Written out: random's moving AP is 0.3 in the first replica, 0.6 in the second.
    assert bench_loop.part_lines(replicas) == [
        "AP on the held-out still / moving frames: before 0.700 / 0.100",
        "  after 5 corrections: doubt 0.700 / 0.500, random 0.900 / 0.450",
    ]
    assert bench_loop.part_lines([{"runs": {}}]) == []


def circling_critters(folder: Path, frames: int = 100) -> Path:
    """Two critters circling a 128 x 96 video, their joints drawn as white dots; labels saved as SLEAP."""
    pytest.importorskip("sleap_io")
    from conftest import encode_video
    from posesets import critter

    from aegroup.io.formats import save_poses
    from aegroup.io.poses import VISIBLE, Frame, PoseSet, VideoRef

    schema = critter()
    offsets = np.column_stack([np.linspace(-10, 10, schema.num_joints), np.zeros(schema.num_joints)])
    pixels, labelled = [], []
    for t in range(frames):
        angle = 2 * np.pi * t / frames
        centre = np.array([64 + 30 * np.cos(angle), 48 + 20 * np.sin(angle)])
        kp = np.full((2, schema.num_joints, 3), float(VISIBLE))
        image = np.full((96, 128, 3), 40, np.uint8)
        for a in range(2):
            kp[a, :, :2] = (centre + offsets + [0, 12 * a - 6]).round()
            for x, y in kp[a, :, :2].astype(int):
                image[y - 1 : y + 2, x - 1 : x + 2] = 255
        pixels.append(image)
        labelled.append(Frame.build(t + 1, 128, 96, kp, track=[0, 1], video=0, frame_index=t))
    video = encode_video(folder / "walk.mp4", pixels)
    poses = PoseSet(schema, labelled, tracks=["a", "b"], videos=[VideoRef(str(video), 128, 96, frames)])
    return save_poses(poses, folder / "walk.slp")


def test_the_fly_splits_take_the_labels_of_another_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import loop_data

    from aegroup.errors import AegroupError
    from aegroup.io.coco import read_rgb

    labels = circling_critters(tmp_path)
    sizes = {"labelled": 4, "pool": 12, "test": 6}
    data = loop_data.fly_data(
        tmp_path / "loop", sizes, 64, split=30, block=10, whole_video=True, labels=labels
    )
    frames = {name: json.loads(split.ann_file.read_text()) for name, split in data.splits.items()}
    assert {name: len(c["images"]) for name, c in frames.items()} == sizes
    assert max(im["id"] - 1 for im in frames["labelled"]["images"]) < 30
    test_ids = {im["id"] for im in frames["test"]["images"]}
    assert data.parts["early"] | data.parts["late"] == test_ids
    assert min(data.parts["late"]) > 30 >= max(data.parts["early"])
    # Each crop holds its animals where its labels say: a white dot under every labelled joint.
    for coco in frames.values():
        for image in coco["images"]:
            pixels = read_rgb(data.splits["test"].image_dir / image["file_name"])
            assert pixels.shape == (64, 64, 3)
            for a in (a for a in coco["annotations"] if a["image_id"] == image["id"]):
                xy = np.asarray(a["keypoints"]).reshape(-1, 3)[:, :2].round().astype(int)
                assert (pixels[xy[:, 1], xy[:, 0]].mean(axis=1) > 150).all()
    with pytest.raises(AegroupError, match="fly_crop 128 is larger than the video's frames"):
        loop_data.fly_data(tmp_path / "x", sizes, 128, split=30, labels=labels)
    with pytest.raises(AegroupError, match="split 200: 0 labelled frames for the pool"):
        loop_data.fly_data(tmp_path / "x", sizes, 64, split=200, labels=labels)


@pytest.mark.slow
def test_the_loop_ranks_the_pool_of_your_own_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_loop

    labels = circling_critters(tmp_path)
    out = tmp_path / "loop"
    own = ["--preset", "smoke", "--dataset", "fly-video", "--labels", str(labels), "--out", str(out)]
    assert bench_loop.main([*own, "--set", "split=30", "--set", "fly_crop=64", "--rank-only"]) == 0
    result = json.loads((out / "loop.json").read_text())["datasets"]["fly-video"]
    assert result["images"] == {"labelled": 6, "pool": 10, "test": 4}
    assert set(result["replicas"][0]["parts"]["before"]) == {"early", "late"}
    assert bench_loop.main([*own, "--set", "split=30", "--set", "fly_crop=200"]) == 2
    assert "fly_crop 200 is larger than the video's frames (128 x 96)" in capsys.readouterr().err

"""Synthetic data: any schema round-trips through the loader; labels match what is drawn; determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from aegroup.data import CocoPoseDataset
from aegroup.io.coco import check_coco, load_coco
from aegroup.schema import PoseSchema, builtin_schemas, load_schema
from aegroup.synth import joint_styles, skeleton_layout, synthesize

SPIDER = """
name: spider_probe
joints: [body, l1a, l1b, r1a, r1b, l2a, l2b, r2a, r2b, antenna]
edges: [[body, l1a], [l1a, l1b], [body, r1a], [r1a, r1b], [body, l2a], [l2a, l2b], [body, r2a], [r2a, r2b]]
flip_pairs: [[l1a, r1a], [l1b, r1b], [l2a, r2a], [l2b, r2b]]
"""


@pytest.mark.parametrize("name", [*builtin_schemas(), "custom"])
def test_any_schema_round_trips_through_the_loader(name: str, tmp_path: Path) -> None:
    schema = PoseSchema.model_validate(yaml.safe_load(SPIDER)) if name == "custom" else load_schema(name)
    ann = synthesize(schema, tmp_path, n_images=3, max_instances=3, size=(96, 80), seed=1)
    summary = check_coco(ann, tmp_path / "images", schema)
    assert summary.problems == [] and summary.images == 3 and summary.instances >= 3
    for train in (False, True):
        ds = CocoPoseDataset(ann, tmp_path / "images", schema, train=train, input_size=96, max_instances=4)
        item = ds[0]
        assert item["image"].shape == (3, 96, 96)
        assert item["heatmaps"].shape == (schema.num_joints, 24, 24)
        assert item["joints"].shape == (4, schema.num_joints, 2)
    data = json.loads(ann.read_text())
    assert data["categories"] == [schema.to_coco_category(1)]
    assert {Image.open(tmp_path / "images" / i["file_name"]).size for i in data["images"]} == {(96, 80)}


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    schema = load_schema("mpii16")
    a = synthesize(schema, tmp_path / "a", n_images=3, seed=5)
    b = synthesize(schema, tmp_path / "b", n_images=4, seed=5)
    c = synthesize(schema, tmp_path / "c", n_images=3, seed=6)
    ja, jb, jc = (json.loads(p.read_text()) for p in (a, b, c))
    assert ja["annotations"] == [x for x in jb["annotations"] if x["image_id"] <= 3]
    assert ja["annotations"] != jc["annotations"]
    for name in ("000000.png", "000002.png"):
        assert (tmp_path / "a/images" / name).read_bytes() == (tmp_path / "b/images" / name).read_bytes()


@pytest.fixture(scope="module")
def coco_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PoseSchema]:
    schema = load_schema("coco17")
    out = tmp_path_factory.mktemp("coco_synth")
    synthesize(schema, out, n_images=40, max_instances=4, size=(256, 256), seed=3)
    return out, schema


def test_labels_follow_what_is_drawn(coco_synth: tuple[Path, PoseSchema]) -> None:
    out, schema = coco_synth
    data = load_coco(out / "annotations.json", schema)
    styles = joint_styles(schema)
    counts = {0: 0, 1: 0, 2: 0}
    coloured, solid = 0, 0
    for image_id in data.image_ids:
        pixels = np.asarray(Image.open(out / "images" / data.image_info(image_id)["file_name"]), dtype=float)
        kp, _ = data.keypoints(image_id)
        for inst in kp:
            for k, (x, y, v) in enumerate(inst):
                counts[int(v)] += 1
                if v == 0:
                    assert x == 0 and y == 0
                    continue
                assert 0 <= x <= 255 and 0 <= y <= 255
                if v == 2 and styles[k].shape != "ring":
                    solid += 1
                    colour = pixels[int(np.floor(y + 0.5)), int(np.floor(x + 0.5))]
                    coloured += np.abs(colour - np.array(styles[k].color)).max() < 60
    # Most uncovered solid markers show their joint type's colour at the labelled point.
    assert coloured > 0.93 * solid
    assert counts[1] > 0 and counts[0] > 0 and counts[2] > 5 * (counts[0] + counts[1])


def test_instances_are_large_and_joints_sometimes_leave_the_frame(coco_synth) -> None:
    out, schema = coco_synth
    data = json.loads((out / "annotations.json").read_text())
    extents = []
    for a in data["annotations"]:
        kp = np.array(a["keypoints"], dtype=float).reshape(-1, 3)
        pts = kp[kp[:, 2] > 0, :2]
        if len(pts) == schema.num_joints:
            extents.append((pts.max(0) - pts.min(0)).max())
    assert 50 <= np.median(extents) <= 160 and min(extents) >= 35
    per_image = [sum(a["image_id"] == i["id"] for a in data["annotations"]) for i in data["images"]]
    assert min(per_image) >= 1 and max(per_image) == 4


def test_joints_off_the_edges_sit_near_the_body(tmp_path: Path) -> None:
    schema = PoseSchema.model_validate(yaml.safe_load(SPIDER))
    layout = skeleton_layout(schema)
    antenna = schema.joints.index("antenna")
    assert layout.part[antenna] != 0 and layout.parent[antenna] == -1
    ann = synthesize(schema, tmp_path, n_images=10, max_instances=2, size=(200, 200), seed=2)
    kp = np.array([a["keypoints"] for a in json.loads(ann.read_text())["annotations"]], float).reshape(
        -1, schema.num_joints, 3
    )
    for inst in kp:
        if inst[antenna, 2] == 0 or (inst[:, 2] == 0).any():
            continue
        body = inst[:antenna, :2]
        lo, hi = body.min(0), body.max(0)
        pad = 0.2 * (hi - lo).max() + 1
        assert np.all(inst[antenna, :2] >= lo - pad) and np.all(inst[antenna, :2] <= hi + pad)


def test_flip_pairs_share_a_marker_told_apart_by_side() -> None:
    schema = load_schema("coco17")
    styles = joint_styles(schema)
    for a, b in (tuple(schema.joints.index(j) for j in pair) for pair in schema.flip_pairs):
        assert (styles[a].shape, styles[a].color) == (styles[b].shape, styles[b].color)
        assert {styles[a].side, styles[b].side} == {-1, 1}
    unpaired = {(s.shape, s.color) for s in styles if s.side == 0}
    paired = {(s.shape, s.color) for s in styles if s.side != 0}
    assert len(unpaired) == sum(s.side == 0 for s in styles) and not unpaired & paired


GECKO = Path(__file__).resolve().parents[1] / "examples" / "skeletons" / "gecko.yaml"


def full_instance_extents(ann: Path, side: int) -> np.ndarray:
    """Largest bounding-box side of every instance with all joints labelled, as a fraction of `side`."""
    extents = []
    for a in json.loads(ann.read_text())["annotations"]:
        kp = np.array(a["keypoints"], dtype=float).reshape(-1, 3)
        if (kp[:, 2] > 0).all():
            extents.append((kp[:, :2].max(0) - kp[:, :2].min(0)).max() / side)
    return np.array(extents)


def test_instance_scale_bounds_the_instance_extent(tmp_path: Path) -> None:
    schema = load_schema(GECKO)
    small, large = (
        full_instance_extents(
            synthesize(schema, tmp_path / str(lo), 12, 2, (160, 120), seed=1, instance_scale=(lo, hi)), 120
        )
        for lo, hi in ((0.2, 0.3), (0.6, 0.7))
    )
    assert len(small) >= 5 and len(large) >= 5
    # Rotation shrinks the box's largest side below the sampled extent by up to ~1/sqrt(2).
    assert small.min() >= 0.7 * 0.2 and small.max() <= 0.3 * 1.1
    assert large.min() >= 0.7 * 0.6 and large.max() <= 0.7 * 1.1


def centre_gaps(ann: Path) -> np.ndarray:
    """Per image with two instances, the distance between their box centres over the larger box side."""
    by_image: dict[int, list[list[float]]] = {}
    for a in json.loads(ann.read_text())["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a["bbox"])
    gaps = []
    for boxes in by_image.values():
        if len(boxes) == 2:
            (x0, y0, w0, h0), (x1, y1, w1, h1) = boxes
            centre_gap = np.hypot(x0 + w0 / 2 - x1 - w1 / 2, y0 + h0 / 2 - y1 - h1 / 2)
            gaps.append(centre_gap / max(w0, h0, w1, h1))
    return np.array(gaps)


def test_spacing_keeps_instances_apart(tmp_path: Path) -> None:
    schema = load_schema(GECKO)
    args = dict(n_images=30, max_instances=2, size=(192, 192), seed=3, min_instances=2)
    close, apart = (
        centre_gaps(synthesize(schema, tmp_path / str(s), instance_scale=(0.4, 0.45), spacing=s, **args))
        for s in (0.0, 1.2)
    )
    assert len(close) == len(apart) == 30
    # Centres 1.2 extents apart stay about an extent apart in box units; unspaced ones often overlap.
    assert apart.min() > 0.8 and (close < 0.5).sum() >= 3 and apart.mean() > close.mean()


def test_colour_side_cue_draws_left_and_right_in_different_colours(tmp_path: Path) -> None:
    schema = load_schema(GECKO)
    styles = joint_styles(schema, "colour")
    pairs = [tuple(schema.joints.index(j) for j in pair) for pair in schema.flip_pairs]
    for a, b in pairs:
        assert styles[a].shape == styles[b].shape and styles[a].side == styles[b].side == 0
        assert np.abs(np.subtract(styles[a].color, styles[b].color)).max() > 100
    args = dict(n_images=4, max_instances=2, size=(128, 128), seed=7, instance_scale=(0.4, 0.6))
    ann = synthesize(schema, tmp_path / "a", side_cue="colour", **args)
    again = synthesize(schema, tmp_path / "b", side_cue="colour", **args)
    dotted = synthesize(schema, tmp_path / "c", **args)
    assert ann.read_text().replace("/a", "") == again.read_text().replace("/b", "")
    assert (tmp_path / "a/images/000003.png").read_bytes() == (tmp_path / "b/images/000003.png").read_bytes()
    # Same poses as with dots: only the markers' look changes.
    keypoints = [[x["keypoints"] for x in json.loads(p.read_text())["annotations"]] for p in (ann, dotted)]
    assert keypoints[0] == keypoints[1]
    data = load_coco(ann, schema)
    hits = 0
    for image_id in data.image_ids:
        name = data.image_info(image_id)["file_name"]
        pixels = np.asarray(Image.open(tmp_path / "a/images" / name), dtype=float)
        for inst in data.keypoints(image_id)[0]:
            for k in (j for pair in pairs for j in pair):
                x, y, v = inst[k]
                if v == 2:
                    colour = pixels[int(np.floor(y + 0.5)), int(np.floor(x + 0.5))]
                    hits += np.abs(colour - np.array(styles[k].color)).max() < 60
    assert hits >= 8


def test_synth_cli_then_data_check_on_an_unshipped_schema(tmp_path: Path, cli) -> None:
    schema_file = tmp_path / "spider.yaml"
    schema_file.write_text(SPIDER)
    out = tmp_path / "data"
    result = cli(
        "synth", "--schema", schema_file, "--out", out, "--images", 6, "--size", 128, 96, "--seed", 4
    )
    assert result.code == 0, result.err
    assert "wrote 6 images" in result.out and (out / "annotations.json").is_file()
    assert len(list((out / "images").glob("*.png"))) == 6
    check = cli(
        "data", "check", out / "annotations.json", "--images", out / "images", "--schema", schema_file
    )
    assert check.code == 0, check.err and "spider_probe" in check.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--images", "0"), "--images must be at least 1"),
        (("--min-instances", "3", "--max-instances", "2"), "min instances"),
        (("--size", "16", "16"), "at least 32 x 32"),
        (("--instance-scale", "0.5", "0.3"), "--instance-scale needs"),
        (("--side-cue", "stripe"), "--side-cue must be one of"),
        (("--spacing", "-0.1"), "--spacing must be at least 0"),
    ],
)
def test_synth_cli_rejects_bad_options(tmp_path: Path, cli, args: tuple[str, ...], needle: str) -> None:
    result = cli("synth", "--schema", "hand21", "--out", tmp_path, *args)
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1

"""COCO reading, checking and writing; `aegroup data check` on good and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from aegroup.errors import AegroupError
from aegroup.io.coco import build_coco, check_coco, load_coco, save_coco
from aegroup.schema import load_schema


def copy_set(synth_set, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A writable copy of the synthetic set plus its schema file: (annotations, images, schema YAML)."""
    ann, images, schema = synth_set
    shutil.copytree(images, tmp_path / "images")
    shutil.copy(ann, tmp_path / "ann.json")
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_text(schema.to_yaml())
    return tmp_path / "ann.json", tmp_path / "images", schema_file


def one_line_error(result, *needles: str) -> None:
    """Exit code 2 and exactly one `error:` line on stderr that contains every needle."""
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_build_save_load_round_trip(tmp_path: Path) -> None:
    schema = load_schema("crowdpose14")
    rng = np.random.default_rng(0)
    kp = np.zeros((2, 14, 3))
    kp[..., :2] = rng.uniform(0, 90, size=(2, 14, 2)).round(2)
    kp[..., 2] = rng.integers(0, 3, size=(2, 14))
    images = [{"id": 5, "file_name": "a.png", "width": 100, "height": 90}, {"id": 9, "file_name": "b.png",
              "width": 64, "height": 64}]  # fmt: skip
    coco = build_coco(schema, images, {5: kp}, scores={5: np.array([0.9, 0.4])})
    path = save_coco(tmp_path / "out.json", coco)
    loaded = load_coco(path, schema)
    assert loaded.image_ids == [5, 9]
    back, crowd = loaded.keypoints(5)
    expected = kp.copy()
    expected[expected[..., 2] == 0] = 0
    np.testing.assert_allclose(back, expected)
    assert not crowd.any() and loaded.keypoints(9)[0].shape == (0, 14, 3)
    anns = loaded.annotations(5)
    assert [a["score"] for a in anns] == [0.9, 0.4]
    assert anns[0]["num_keypoints"] == int((kp[0, :, 2] > 0).sum())
    labelled = kp[0][kp[0, :, 2] > 0, :2]
    x, y, w, h = anns[0]["bbox"]
    np.testing.assert_allclose([x, y, x + w, y + h], [*labelled.min(0), *labelled.max(0)], atol=0.01)
    assert anns[0]["area"] == pytest.approx(w * h, abs=0.01)
    assert json.loads(path.read_text())["categories"] == [schema.to_coco_category(1)]


def test_data_check_accepts_the_synthetic_set(synth_set, tmp_path: Path, cli) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    assert result.code == 0, result.err
    assert "images: 8" in result.out and "walker_bot" in result.out
    data = json.loads(ann.read_text())
    beacon = sum(a["keypoints"][3 * 8 + 2] > 0 for a in data["annotations"])
    assert any(line.split() == ["beacon", str(beacon), line.split()[-1]] for line in result.out.splitlines())


def test_keypoint_length_mismatch(synth_set, tmp_path: Path, cli) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    data = json.loads(ann.read_text())
    data["annotations"][2]["keypoints"] = data["annotations"][2]["keypoints"][:-3]
    ann.write_text(json.dumps(data))
    bad_id = data["annotations"][2]["id"]
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    one_line_error(result, str(ann), f"annotation id {bad_id}", "'keypoints'", "24 values, expected 27")


def test_truncated_json(synth_set, tmp_path: Path, cli) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    ann.write_text(ann.read_text()[:500])
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    one_line_error(result, str(ann), "not valid JSON")


def test_missing_image(synth_set, tmp_path: Path, cli) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    (images / "000003.png").unlink()
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    one_line_error(result, str(images / "000003.png"), "not found")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_image(synth_set, tmp_path: Path, cli, damage: str) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    target = images / "000005.png"
    data = target.read_bytes()
    target.write_bytes(b"this is not a picture" if damage == "garbage" else data[: len(data) // 2])
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    one_line_error(result, str(target), "cannot read image")


def test_several_problems_give_one_line_each(synth_set, tmp_path: Path, cli) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    (images / "000001.png").unlink()
    (images / "000002.png").write_bytes(b"junk")
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and "000001.png" in lines[0] and "000002.png" in lines[1]


def test_wrong_schema_names_both_joint_lists(synth_set, tmp_path: Path, cli) -> None:
    ann, images, _ = copy_set(synth_set, tmp_path)
    result = cli("data", "check", ann, "--images", images, "--schema", "coco17")
    one_line_error(result, str(ann), "'keypoints'", "'walker_bot'", "'left_eye'", "'beacon'")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.pop("images"), "field 'images' is missing"),
        (lambda d: d["images"][0].pop("file_name"), "field 'file_name'"),
        (lambda d: d["annotations"][0].update(image_id=12345), "field 'image_id' 12345"),
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 7), "visibility flag"),
        (lambda d: d["annotations"][1].update(id=d["annotations"][0]["id"]), "field 'id' is duplicated"),
    ],
)
def test_structural_problems_are_one_line_errors(synth_set, tmp_path: Path, edit, needle: str) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    data = json.loads(ann.read_text())
    edit(data)
    ann.write_text(json.dumps(data))
    with pytest.raises(AegroupError) as err:
        load_coco(ann, load_schema(schema_file))
    assert needle in str(err.value) and "\n" not in str(err.value) and str(ann) in str(err.value)
    summary = None
    try:
        summary = check_coco(ann, images, load_schema(schema_file))
    except AegroupError as again:
        assert needle in str(again)
    if summary is not None:
        assert any(needle in p for p in summary.problems)


def test_data_check_real_sets(real_set, cli) -> None:
    ann, folder, schema_name = real_set
    result = cli("data", "check", ann, "--images", folder, "--schema", schema_name)
    assert result.code == 0, result.err
    data = json.loads(Path(ann).read_text())
    assert f"images: {len(data['images'])}" in result.out


@pytest.mark.parametrize("verb", [("synth",), ("data", "check"), ("data",)])
def test_help(cli, verb: tuple[str, ...]) -> None:
    result = cli(*verb, "--help")
    assert result.code == 0 and "Usage" in result.out


def test_image_size_must_match_the_annotation_file(synth_set, tmp_path: Path, cli) -> None:
    ann, images, schema_file = copy_set(synth_set, tmp_path)
    data = json.loads(ann.read_text())
    data["images"][1]["width"] = 200
    ann.write_text(json.dumps(data))
    result = cli("data", "check", ann, "--images", images, "--schema", schema_file)
    one_line_error(result, str(images / data["images"][1]["file_name"]), "128x128", "'width'", "200x128")

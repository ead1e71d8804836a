"""`aegroup predict` and `aegroup demo` through the real entry point: outputs, bad inputs, --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from aegroup.io.results import load_results
from aegroup.schema import load_schema
from aegroup.synth import synthesize

GECKO = Path(__file__).resolve().parents[1] / "examples" / "skeletons" / "gecko.yaml"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny gecko model saved as a checkpoint (input 64)."""
    import torch

    from aegroup.decode import DecodeConfig
    from aegroup.model import ModelConfig, build_model
    from aegroup.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    schema = load_schema(GECKO)
    config = ModelConfig.preset("tiny", schema.num_joints, input_size=64)
    folder = tmp_path_factory.mktemp("ckpt") / "best"
    # A low detection threshold so that even untrained maps give candidates and instances to write.
    decode = DecodeConfig(detection_threshold=0.0, max_instances=3)
    return save_checkpoint(folder, build_model(config), schema, config, decode, 0, 0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic gecko images (two sizes) plus their COCO file: (folder holding annotations.json, images/)."""
    root = tmp_path_factory.mktemp("predict")
    synthesize(load_schema(GECKO), root, n_images=3, max_instances=2, size=(90, 60), seed=1)
    return root


def test_predict_folder_writes_results_with_candidates(checkpoint, images, tmp_path, cli) -> None:
    out = tmp_path / "results.json"
    result = cli("predict", checkpoint, images / "images", "--out", out, "--batch", "2")
    assert result.code == 0, result.err
    results = load_results(out)
    assert [im.file_name for im in results.images] == ["000000.png", "000001.png", "000002.png"]
    assert [(im.width, im.height) for im in results.images] == [(90, 60)] * 3
    assert results.candidates is not None and len(results.candidates) == 3
    assert results.pose_schema == load_schema(GECKO)
    assert "3 images" in result.out


def test_predict_coco_keeps_ids_and_options(checkpoint, images, tmp_path, cli) -> None:
    ann = images / "annotations.json"
    out = tmp_path / "results.json"
    args = ("--coco", ann, "--images", images / "images", "--out", out, "--no-candidates")
    result = cli("predict", checkpoint, *args, "--flip", "--scales", "1,1.5", "--method", "greedy")
    assert result.code == 0, result.err
    results = load_results(out)
    assert sorted(im.id for im in results.images) == sorted(
        i["id"] for i in json.loads(ann.read_text())["images"]
    )
    assert results.candidates is None
    # Flip and two scales concatenate four tag vectors per joint.
    assert all(len(a.tags[0]) == 4 for a in results.annotations if a.tags)


def test_unreadable_image_is_reported_and_skipped(checkpoint, images, tmp_path, cli) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("000000.png", "000001.png"):
        (folder / name).write_bytes((images / "images" / name).read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    Image.new("RGB", (33, 47)).save(folder / "odd.jpg")
    out = tmp_path / "results.json"
    result = cli("predict", checkpoint, folder, "--out", out)
    assert result.code == 0
    assert "skipped" in result.err and "broken.png" in result.err
    assert "1 unreadable" in result.out
    names = [im.file_name for im in load_results(out).images]
    assert names == ["000000.png", "000001.png", "odd.jpg"]


def test_missing_checkpoint_is_a_one_line_error(images, tmp_path, cli) -> None:
    result = cli("predict", tmp_path / "nothing", images / "images", "--out", tmp_path / "r.json")
    assert result.code == 2
    assert result.err.startswith("error: ") and "nothing" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "r.json").exists()


def test_checkpoint_schema_must_match_the_coco_file(checkpoint, tmp_path, cli) -> None:
    other = load_schema("hand21")
    ann = synthesize(other, tmp_path / "hand", n_images=1, max_instances=1, size=(64, 64))
    result = cli(
        "predict", checkpoint, "--coco", ann, "--images", ann.parent / "images", "--out", tmp_path / "r.json"
    )
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert "annotations.json" in result.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--scales", "1,x"), "--scales"),
        (("--scales", "0"), "--scales"),
        (("--method", "nope"), "nope"),
        (("--decode", "threshold=0.3"), "--decode: expected KEY=VALUE with KEY one of max_instances"),
        (("--decode", "detection_threshold"), "--decode: expected KEY=VALUE"),
        (("--decode", "nms_kernel=4"), "--decode: field 'nms_kernel'"),
    ],
)
def test_bad_options_are_one_line_errors(checkpoint, images, tmp_path, cli, args, needle) -> None:
    result = cli("predict", checkpoint, images / "images", "--out", tmp_path / "r.json", *args)
    assert result.code == 2 and needle in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_decode_overrides_change_the_grouping(checkpoint, images, tmp_path, cli) -> None:
    counts = []
    for threshold in ("0.0", "2.0"):  # untrained maps: every peak is a candidate at 0, none above 2
        out = tmp_path / f"r{threshold}.json"
        args = ("--out", out, "--decode", f"detection_threshold={threshold}", "--decode", "refine=false")
        result = cli("predict", checkpoint, images / "images", *args)
        assert result.code == 0, result.err
        counts.append(len(load_results(out).annotations))
    assert counts[0] > 0 and counts[1] == 0


def test_needs_exactly_one_image_source(checkpoint, images, tmp_path, cli) -> None:
    neither = cli("predict", checkpoint, "--out", tmp_path / "r.json")
    assert neither.code == 2 and "--coco" in neither.err
    ann = images / "annotations.json"
    no_dir = cli("predict", checkpoint, "--coco", ann, "--out", tmp_path / "r.json")
    assert no_dir.code == 2 and "--images" in no_dir.err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("predict", checkpoint, empty, "--out", tmp_path / "r.json").code == 2


@pytest.mark.parametrize("verb", ["predict", "demo"])
def test_help(cli, verb: str) -> None:
    result = cli(verb, "--help")
    assert result.code == 0 and "--out" in result.out

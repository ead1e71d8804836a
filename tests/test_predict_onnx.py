"""`Predictor.from_onnx` and `aegroup predict model.onnx`: ONNX Runtime without torch, the checkpoint's
maps (to 1e-4) and groupings; what an export cannot do is refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from no_torch import run_without_torch

from aegroup.errors import AegroupError
from aegroup.io.coco import read_rgb
from aegroup.io.results import annotations_to_instances, load_results, record_to_candidates

pytest.importorskip("onnxruntime", reason="the 'deploy' extra is not installed")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

TORCH_FREE_CLI = """
from aegroup.cli import main

sys.argv = ["aegroup", "predict", *sys.argv[1:]]
try:
    main()
except SystemExit as exit_:
    if exit_.code:
        raise
"""


def test_cli_without_torch_writes_the_checkpoints_results(onnx_export, synth_set, tmp_path, cli) -> None:
    """`aegroup predict model.onnx DIR` runs where torch cannot be imported and writes what the checkpoint
    writes: the same instances in every image (positions exact, scores to 1e-4) and the same candidates."""
    from aegroup.deploy.parity import grouping_difference

    checkpoint, model = onnx_export
    _, images, schema = synth_set
    options = ["--device", "cpu", "--threads", "1", "--batch", "4"]
    run = run_without_torch(
        TORCH_FREE_CLI, str(model), str(images), "--out", str(tmp_path / "onnx.json"), *options
    )
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "8 images" in run.stdout
    result = cli("predict", checkpoint, images, "--out", tmp_path / "torch.json", *options)
    assert result.code == 0, result.err
    got, want = load_results(tmp_path / "onnx.json"), load_results(tmp_path / "torch.json")
    assert [im.model_dump() for im in got.images] == [im.model_dump() for im in want.images]
    assert len(want.annotations) >= 10
    for image in want.images:
        a, b = (annotations_to_instances(r.annotations_for(image.id)) for r in (got, want))
        assert grouping_difference(a, b) is None, image.file_name
    assert got.candidates is not None and want.candidates is not None
    for a, b in zip(got.candidates, want.candidates, strict=True):
        ca, cb = (record_to_candidates(r, schema.num_joints) for r in (a, b))
        np.testing.assert_array_equal(ca.xy, cb.xy)
        np.testing.assert_allclose(ca.score, cb.score, rtol=0, atol=1e-4)


@pytest.mark.parametrize("options", [{}, {"flip": True, "scales": (1.0, 1.5)}], ids=["plain", "flip+scales"])
def test_maps_and_groupings_equal_the_checkpoints(onnx_export, synth_set, options: dict) -> None:
    """ONNX Runtime's merged maps stay numpy and equal PyTorch's to 1e-4; groupings are identical."""
    from aegroup.deploy.parity import grouping_difference
    from aegroup.predict import Predictor

    checkpoint, model = onnx_export
    _, folder, _ = synth_set
    images = [read_rgb(path) for path in sorted(folder.iterdir())[:4]]
    deployed = Predictor.from_onnx(model, device="cpu", threads=1, **options)
    reference = Predictor.from_checkpoint(checkpoint, device="cpu", **options)
    got, want = deployed.maps(images), reference.maps(images)
    assert isinstance(got[0], np.ndarray) and isinstance(got[1], np.ndarray)
    assert got[1].shape == tuple(want[1].shape)
    for a, b in zip(got[:2], want[:2], strict=True):
        assert float(np.abs(a - b.numpy()).max()) <= 1e-4
    for a, b in zip(deployed.predict_batch(images), reference.predict_batch(images), strict=True):
        assert grouping_difference(a.instances, b.instances) is None


def test_settings_come_from_the_metadata(onnx_export) -> None:
    from aegroup.decode import DecodeConfig
    from aegroup.predict import Predictor

    _, model = onnx_export
    predictor = Predictor.from_onnx(model, device="cpu")
    assert predictor.decode.max_instances == 6  # the checkpoint's decoding settings
    assert (predictor.input_size, predictor.stride, predictor.size_multiple) == (64, 4, 32)
    assert predictor.schema.name == "walker_bot"
    other = Predictor.from_onnx(model, decode=DecodeConfig(max_instances=2), input_size=96, method="greedy")
    assert (other.decode.max_instances, other.input_size, other.method) == (2, 96, "greedy")


def with_props(path: Path, out: Path, **values: str) -> Path:
    """A copy of an ONNX file with metadata entries `aegroup.<key>` set (or, for None, removed)."""
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    for key, value in values.items():
        props.pop(f"aegroup.{key}", None)
        if value is not None:
            props[f"aegroup.{key}"] = value
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(out))
    return out


def test_a_fixed_size_export_refuses_other_sizes_and_scales(onnx_export, tmp_path) -> None:
    from aegroup.predict import Predictor

    _, model = onnx_export
    fixed = with_props(model, tmp_path / "fixed.onnx", fixed_size="[64, 64]")
    assert Predictor.from_onnx(fixed, input_size=64, flip=True).input_size == 64
    with pytest.raises(
        AegroupError, match=r"fixed\.onnx: exported for a fixed 64x64 input, not 96; re-export"
    ):
        Predictor.from_onnx(fixed, input_size=96)
    with pytest.raises(
        AegroupError, match=r"fixed\.onnx: exported for a fixed 64x64 input: scales other than 1"
    ):
        Predictor.from_onnx(fixed, scales=(1.0, 1.5))
    odd = with_props(model, tmp_path / "odd.onnx", mean="[0.5, 0.5, 0.5]")
    with pytest.raises(AegroupError, match=r"odd\.onnx: metadata 'aegroup.mean'/'aegroup.std'"):
        Predictor.from_onnx(odd)


@pytest.mark.parametrize(
    ("edit", "args", "needle"),
    [
        ({"format": None}, (), "no aegroup metadata (metadata_props has no 'aegroup.format')"),
        ({"schema": None}, (), "metadata lacks 'aegroup.schema'"),
        (
            {"fixed_size": "[64, 64]"},
            ("--scales", "1,2"),
            "scales other than 1 need an export with --dynamic",
        ),
        ({}, ("--device", "tpu"), "device 'tpu': expected 'cpu', 'cuda', 'cuda:N' or 'auto'"),
    ],
)
def test_cli_refuses_in_one_line_and_writes_nothing(
    onnx_export, synth_set, tmp_path, cli, edit, args, needle
):
    _, model = onnx_export
    _, images, _ = synth_set
    bad = with_props(model, tmp_path / "bad.onnx", **edit)
    out = tmp_path / "r.json"
    result = cli("predict", bad, images, "--out", out, *args)
    assert result.code == 2 and needle in result.err
    assert result.err.startswith("error: ") and len(result.err.strip().splitlines()) == 1
    assert not out.exists()

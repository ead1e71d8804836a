"""ONNX export: checker-valid graph, metadata round trip, parity with PyTorch (maps and groupings), CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aegroup.data.transforms import preprocess
from aegroup.deploy.metadata import DEFAULT_OPSET, read_metadata
from aegroup.errors import AegroupError
from aegroup.io.coco import read_rgb

onnx = pytest.importorskip("onnx", reason="the 'deploy' extra is not installed")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synth_images(synth_set) -> list[np.ndarray]:
    """The synthetic set's 128x128 images, plus two crops of other sizes and aspect ratios."""
    _, folder, _ = synth_set
    images = [read_rgb(p) for p in sorted(folder.iterdir())]
    return [*images, images[0][:96, :70], images[1][10:74, :]]


@pytest.mark.slow
def test_export_passes_the_checker_and_carries_everything_predicting_needs(onnx_export, synth_set) -> None:
    _, path = onnx_export
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain: o.version for o in model.opset_import}[""] == DEFAULT_OPSET
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["heatmaps", "tags"]
    assert not any(node.metadata_props for node in model.graph.node)  # no stack traces, no local paths
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    meta = read_metadata({p.key: p.value for p in model.metadata_props}, str(path))
    _, _, schema = synth_set
    assert meta.schema == schema
    assert meta.model_config["tag_dim"] == meta.tag_dim == 2
    assert meta.nstack == 2 and meta.input_size == 64 and meta.output_stride == 4
    assert meta.size_multiple == 4 * 2**3 and meta.fixed_size is None
    assert meta.decode_config.max_instances == 6
    assert meta.mean == (0.485, 0.456, 0.406) and meta.std == (0.229, 0.224, 0.225)
    assert meta.checkpoint == {"epoch": 3, "step": 42, "metrics": {}}


@pytest.mark.slow
def test_onnx_runtime_maps_and_groupings_equal_pytorch(onnx_export, synth_set) -> None:
    """Dynamic batch (1 and 4) and two input sizes (64 and 96); groupings compared instance by instance."""
    from aegroup.deploy import OnnxModel
    from aegroup.deploy.parity import compare_backends

    checkpoint, path = onnx_export
    model = OnnxModel(path)
    images = synth_images(synth_set)
    report = compare_backends(checkpoint, model, images, batch_size=4)
    assert report.images == len(images) and report.instances >= 3 * len(images)
    assert report.heatmap_difference <= 1e-4 and report.tag_difference <= 1e-4
    assert report.identical, report.mismatches
    # Another input size than the metadata's (the graph is dynamic): 96 x 96 inputs, batch 1.
    import torch

    from aegroup.training.checkpoint import load_model

    network, _ = load_model(checkpoint)
    batch = preprocess(images[-1], 96)[0][None]
    heat, tags = model.run(batch)
    assert heat.shape == (1, 9, 24, 24) and tags.shape == (1, 9, 2, 24, 24)
    with torch.no_grad():
        output = network(torch.from_numpy(batch))
    assert np.abs(heat - output.heatmaps[-1].numpy()).max() <= 1e-4
    assert np.abs(tags - output.tags[-1].numpy()).max() <= 1e-4


def test_grouping_difference_names_what_differs() -> None:
    from aegroup.decode import Instance
    from aegroup.deploy.parity import grouping_difference

    kp = np.array([[1.0, 2.0, 0.5], [3.25, 4.0, 0.4]], np.float32)
    one = Instance(kp, np.zeros((2, 1), np.float32), 0.45)
    moved = kp.copy()
    moved[1, 0] += 0.25
    assert grouping_difference([one], [one]) is None
    assert grouping_difference([one], []) == "1 instances, PyTorch 0"
    assert grouping_difference([one], [Instance(moved, one.tags, 0.45)]) == "an instance's keypoints differ"
    assert "score" in str(grouping_difference([one], [Instance(kp, one.tags, 0.46)]))


@pytest.mark.slow
def test_cli_exports_a_fixed_size_and_checks_it_on_an_image_folder(
    onnx_export, synth_set, tmp_path, cli
) -> None:
    from aegroup.deploy import OnnxModel

    checkpoint, _ = onnx_export
    _, folder, _ = synth_set
    out = tmp_path / "sub" / "fixed.onnx"
    args = ["export-model", checkpoint, "--onnx", out, "--input-size", "96", "96", "--opset", "18"]
    result = cli(*args, "--check-images", folder)
    assert result.code == 0, result.err
    assert f"wrote {out}" in result.out and "opset 18, 96x96" in result.out
    assert "8 images" in result.out and "groupings identical" in result.out
    model = OnnxModel(out)
    assert model.metadata.fixed_size == (96, 96) and model.metadata.input_size == 96
    assert model.run(np.zeros((3, 3, 96, 96), np.float32))[0].shape == (3, 9, 24, 24)
    with pytest.raises(AegroupError, match="exported for 96x96 inputs, got 64x96"):
        model.run(np.zeros((1, 3, 96, 64), np.float32))
    assert [p.name for p in out.parent.iterdir()] == ["fixed.onnx"]  # no temporary left behind


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--opset", "99"], "--opset 99: choose 16 to"),
        (["--opset", "11"], "--opset 11: choose 16 to"),
        (["--input-size", "96", "64"], "must be square"),
        (["--input-size", "80", "80"], "must be a multiple of 32"),
        (["--input-size", "64", "64", "--dynamic"], "give one of them, not both"),
    ],
)
def test_bad_options_are_one_line_errors(onnx_checkpoint, tmp_path, cli, args, needle) -> None:
    out = tmp_path / "model.onnx"
    result = cli("export-model", onnx_checkpoint, "--onnx", out, *args)
    assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_folder_that_is_no_checkpoint_is_a_one_line_error(tmp_path, cli) -> None:
    (tmp_path / "run").mkdir()
    result = cli("export-model", tmp_path / "run", "--onnx", tmp_path / "m.onnx")
    assert result.code == 2 and "not a checkpoint" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not (tmp_path / "m.onnx").exists()


def test_an_unwritable_output_is_a_one_line_error(onnx_checkpoint, tmp_path, cli) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    for out, needle in ((blocker / "m.onnx", "cannot write there"), (tmp_path, "is a folder")):
        result = cli("export-model", onnx_checkpoint, "--onnx", out)
        assert result.code == 2 and needle in result.err and len(result.err.strip().splitlines()) == 1
    assert blocker.read_text() == "a file, not a folder"


def test_help(cli) -> None:
    result = cli("export-model", "--help")
    assert result.code == 0 and "--input-size" in result.out and "--opset" in result.out


def test_export_needs_the_deploy_extra(monkeypatch, tmp_path: Path) -> None:
    """Without onnx installed: a one-line hint naming the extra, before any work is done."""
    import sys

    from aegroup.deploy.export import export_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(AegroupError, match=r"ONNX export needs onnx: pip install 'aegroup\[deploy\]'"):
        export_onnx(tmp_path / "missing", tmp_path / "m.onnx")


@pytest.mark.slow
def test_a_failed_check_is_a_one_line_error_with_the_yardstick(
    onnx_export, synth_set, monkeypatch, cli
) -> None:
    """When groupings differ, the error says how many images, and how many PyTorch itself flips."""
    from aegroup.deploy import export, parity

    checkpoint, path = onnx_export
    _, folder, _ = synth_set
    report = export.ExportReport(path, 20, None, 1e-6, [], 1)
    bad = parity.ParityReport(images=8, instances=20, mismatches=["image 3: 2 instances, PyTorch 3"])
    bad.torch_unstable = 5
    monkeypatch.setattr(export, "export_onnx", lambda *args: report)
    monkeypatch.setattr(parity, "compare_backends", lambda *args, **kwargs: bad)
    result = cli("export-model", checkpoint, "--onnx", path, "--check-images", folder)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "image 3: 2 instances, PyTorch 3; 1 images group differently" in result.err
    assert "groups 5 differently from itself" in result.err

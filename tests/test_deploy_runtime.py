"""ONNX Runtime side: prediction in a process where torch cannot be imported; files it must refuse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from no_torch import run_without_torch

from aegroup.errors import AegroupError

onnx = pytest.importorskip("onnx", reason="the 'deploy' extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the 'deploy' extra is not installed")

TORCH_FREE_PREDICT = """
import json
from pathlib import Path

import numpy as np

from aegroup.data.transforms import preprocess
from aegroup.geometry import invert_affine
from aegroup.decode import decode_batch, to_image
from aegroup.deploy import OnnxModel
from aegroup.io.coco import read_rgb

model = OnnxModel(sys.argv[1])
meta = model.metadata
prepared = [preprocess(read_rgb(Path(p)), meta.input_size) for p in sys.argv[3:]]
heatmaps, tags = model.run(np.stack([x for x, _ in prepared]))
grouped = decode_batch(heatmaps, tags, meta.schema, "hungarian", meta.decode_config)
out = []
for instances, (_, affine) in zip(grouped, prepared):
    mapped = to_image(instances, invert_affine(affine), meta.output_stride)
    out.append([{"keypoints": i.keypoints.tolist(), "score": i.score} for i in mapped])
Path(sys.argv[2]).write_text(json.dumps(out))
"""


@pytest.mark.slow
def test_prediction_without_torch_equals_the_pytorch_predictor(onnx_export, synth_set, tmp_path) -> None:
    """Preprocess, ONNX Runtime, decode and the way back to image pixels run with torch blocked, and give
    the instances `Predictor.from_checkpoint` gives (positions to 1e-3 px, same counts)."""
    from aegroup.io.coco import read_rgb
    from aegroup.predict import Predictor

    checkpoint, path = onnx_export
    _, folder, _ = synth_set
    files = sorted(folder.iterdir())[:5]
    out = tmp_path / "instances.json"
    run = run_without_torch(TORCH_FREE_PREDICT, str(path), str(out), *map(str, files))
    assert run.returncode == 0, run.stderr
    got = json.loads(out.read_text())
    want = Predictor.from_checkpoint(checkpoint, device="cpu").predict_batch([read_rgb(f) for f in files])
    assert sum(len(image) for image in got) >= 10
    for image_got, image_want in zip(got, want, strict=True):
        assert len(image_got) == len(image_want.instances)
        for a, b in zip(image_got, image_want.instances, strict=True):
            np.testing.assert_allclose(np.array(a["keypoints"]), b.keypoints, atol=1e-3)
            assert a["score"] == pytest.approx(b.score, abs=1e-4)


def edited(path: Path, out: Path, edit) -> Path:
    """A copy of the ONNX file at `path`, changed by `edit(model_proto)`."""
    model = onnx.load(str(path))
    edit(model)
    onnx.save(model, str(out))
    return out


def drop_props(*keys: str):
    """An edit removing the named metadata entries (all when none are named)."""

    def edit(model) -> None:
        kept = [p for p in model.metadata_props if keys and p.key not in keys]
        del model.metadata_props[:]
        model.metadata_props.extend(kept)

    return edit


def stamp_opset(version: int):
    """An edit claiming a default-domain opset `version`."""

    def edit(model) -> None:
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = version

    return edit


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (drop_props(), "no aegroup metadata (metadata_props has no 'aegroup.format'); export the model"),
        (
            drop_props("aegroup.schema", "aegroup.tag_dim"),
            "metadata lacks 'aegroup.schema', 'aegroup.tag_dim'",
        ),
        (stamp_opset(99), "cannot load it ("),
    ],
)
def test_files_it_cannot_use_are_one_line_errors(onnx_export, tmp_path, edit, needle) -> None:
    from aegroup.deploy import OnnxModel

    _, path = onnx_export
    bad = edited(path, tmp_path / "bad.onnx", edit)
    with pytest.raises(AegroupError, match=r"bad\.onnx: ") as err:
        OnnxModel(bad)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_missing_and_corrupt_files_are_one_line_errors(tmp_path) -> None:
    from aegroup.deploy import OnnxModel

    with pytest.raises(AegroupError, match=r"nothing\.onnx: ONNX model not found"):
        OnnxModel(tmp_path / "nothing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(
        AegroupError, match=rf"junk.onnx: onnxruntime {ort.__version__} cannot load it"
    ) as err:
        OnnxModel(junk)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_devices_threads_and_input_checks(onnx_export) -> None:
    from aegroup.deploy import OnnxModel

    _, path = onnx_export
    model = OnnxModel(path, device="auto", threads=1)
    assert model.providers[-1] == "CPUExecutionProvider"
    batch = np.random.default_rng(0).standard_normal((2, 3, 64, 96), np.float32)
    for got, want in zip(model(batch), model.run(batch), strict=True):  # the `Network` call
        np.testing.assert_array_equal(got, want)
    with pytest.raises(AegroupError, match=r"input must be \(B, 3, H, W\) images, got \(3, 64, 64\)"):
        model.run(np.zeros((3, 64, 64), np.float32))
    with pytest.raises(AegroupError, match="device 'gpu': expected 'cpu', 'cuda', 'cuda:N' or 'auto'"):
        OnnxModel(path, device="gpu")
    with pytest.raises(AegroupError, match="threads: expected 0"):
        OnnxModel(path, threads=-1)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(AegroupError, match=r"has no CUDA execution provider.*onnxruntime-gpu"):
            OnnxModel(path, device="cuda")


def test_import_of_the_runtime_side_loads_neither_torch_nor_onnxruntime() -> None:
    code = (
        "import sys, aegroup.deploy, aegroup.cli.export_model\n"
        "bad = [m for m in ('torch', 'onnxruntime', 'onnx', 'onnxscript') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

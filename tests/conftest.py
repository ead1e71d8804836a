"""Shared fixtures: the real COCO-format sets beside the project (skipped when absent)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REAL_SETS = {
    "coco": ("test_coco.json", "coco17"),
    "crowdpose": ("test_crowdpose.json", "crowdpose14"),
    "ap10k": ("test_ap10k.json", "ap10k17"),
}


def real_data_root() -> Path:
    """Folder of the small real sets: $AEGROUP_TEST_DATA or ../shared/data beside the project."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("AEGROUP_TEST_DATA", default))


@pytest.fixture(params=sorted(REAL_SETS))
def real_set(request: pytest.FixtureRequest) -> tuple[Path, Path, str]:
    """(annotation file, image folder, built-in schema name) of one real set, or skip if absent."""
    ann_name, schema_name = REAL_SETS[request.param]
    folder = real_data_root() / request.param
    ann = folder / ann_name
    if not ann.is_file():
        pytest.skip(f"real test data not found at {ann} (set AEGROUP_TEST_DATA to the shared data folder)")
    return ann, folder, schema_name


class CliResult:
    """Exit code and captured output of one in-process `aegroup` run."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `aegroup ARGS...` in-process through the real entry point (error handling included)."""
    from aegroup.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr("sys.argv", ["aegroup", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


CUSTOM_SCHEMA_YAML = """
name: walker_bot
joints: [hub, mast, head, left_knee, left_foot, right_knee, right_foot, tail, beacon]
edges: [[hub, mast], [mast, head], [hub, left_knee], [left_knee, left_foot], [hub, right_knee],
        [right_knee, right_foot], [hub, tail]]
flip_pairs: [[left_knee, right_knee], [left_foot, right_foot]]
group_order: [hub, mast, head, left_knee, right_knee, tail, left_foot, right_foot, beacon]
"""
"""A skeleton aegroup does not ship: a flip pair, a cycle-free tree and a joint (beacon) on no edge."""


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory: pytest.TempPathFactory):
    """(annotation file, image folder, schema): 8 synthetic 128x128 images of CUSTOM_SCHEMA_YAML."""
    import yaml

    from aegroup.schema import PoseSchema
    from aegroup.synth import synthesize

    schema = PoseSchema.model_validate(yaml.safe_load(CUSTOM_SCHEMA_YAML))
    out = tmp_path_factory.mktemp("synth_set")
    ann = synthesize(schema, out, n_images=8, max_instances=3, size=(128, 128), seed=7)
    return ann, out / "images", schema


@pytest.fixture(scope="session")
def loop_decoder():
    """benchmarks/bench_decode.py as a module: its straightforward loop decoder is the reference decoder."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_decode.py"
    spec = importlib.util.spec_from_file_location("bench_decode", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_decode", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread: tiny models gain little from more, and spin-waiting OpenMP threads are a
    5-10x slow-down when a 2-core machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def onnx_checkpoint(tmp_path_factory: pytest.TempPathFactory, synth_set) -> Path:
    """A tiny untrained CUSTOM_SCHEMA_YAML model with D = 2 tags, saved as a checkpoint (input 64).

    The last head is re-initialised at full scale so the maps have many clear peaks (heatmaps up to ~1) and
    tags spread beyond the grouping threshold: decoding then makes real choices for backends to agree on.
    """
    import torch

    from aegroup.decode import DecodeConfig
    from aegroup.model import ModelConfig, build_model
    from aegroup.train.checkpoint import save_checkpoint

    _, _, schema = synth_set
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", schema.num_joints, tag_dim=2, input_size=64)
    model = build_model(config)
    k = schema.num_joints
    with torch.no_grad():
        head = model.heads[-1]
        fresh = torch.nn.Conv2d(head.in_channels, head.out_channels, 1)
        head.weight[:k], head.bias[:k] = fresh.weight[:k] * 3, fresh.bias[:k]
        head.weight[k:] *= 5
    folder = tmp_path_factory.mktemp("onnx_checkpoint") / "best"
    return save_checkpoint(folder, model, schema, config, DecodeConfig(max_instances=6), epoch=3, step=42)


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory: pytest.TempPathFactory, onnx_checkpoint: Path) -> tuple[Path, Path]:
    """(checkpoint, its dynamic-size ONNX export at the default opset); skipped without the deploy extra."""
    pytest.importorskip("onnxscript", reason="the 'deploy' extra is not installed")
    from aegroup.deploy.export import export_onnx

    out = tmp_path_factory.mktemp("onnx_export") / "model.onnx"
    return onnx_checkpoint, export_onnx(onnx_checkpoint, out).path

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


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread: tiny models gain little from more, and spin-waiting OpenMP threads are a
    5-10x slow-down when a 2-core machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

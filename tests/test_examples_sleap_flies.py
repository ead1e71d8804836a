"""The fly recipe in examples/sleap_flies/ and benchmarks/bench_real_fly.py, run on a tiny synthetic video."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import real_data_root

from aegroup.io import formats
from aegroup.schema import load_schema
from aegroup.training import load_train_config

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "sleap_flies" / "train.yaml"
FLY = ROOT / "examples" / "sleap_flies" / "fly.yaml"


def test_the_recipe_parses_and_trains_native_crops_of_the_fly() -> None:
    config = load_train_config(RECIPE)
    schema = config.resolve_schema()
    assert schema.num_joints == 13 and schema.oks_sigmas == [0.025] * 13
    assert ("wingL", "wingR") in schema.flip_pairs and schema.group_index[0] == schema.joints.index("thorax")
    assert config.augment.scale_reference == "native" and config.augment.center == "instance"
    assert config.augment.rotation == 180 and config.augment.flip_prob > 0
    assert config.train.frames == (0, 1200) and config.val is not None and config.val.frames == (1200, None)
    # The data paths are relative to the recipe and point at the shared clip beside the project.
    assert (
        config.train.ann_file.resolve() == (ROOT.parent / "shared" / "data" / "sleap" / "clip.slp").resolve()
    )
    model = config.resolve_model(schema.num_joints)
    assert model.input_size % (4 * 2**model.depth) == 0


def test_the_fly_skeleton_is_the_clips_own() -> None:
    slp = real_data_root() / "sleap" / "clip.slp"
    if not slp.is_file():
        pytest.skip(f"real test data not found at {slp} (set AEGROUP_TEST_DATA to the shared data folder)")
    pytest.importorskip("sleap_io")
    clip, fly = formats.load_poses(slp).schema, load_schema(FLY)
    assert clip.joints == fly.joints and sorted(clip.flip_pairs) == sorted(fly.flip_pairs)
    assert sorted(map(sorted, clip.edges)) == sorted(map(sorted, fly.edges))


def load_benchmark(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/bench_real_fly.py as a module (registered while the test runs: its dataclasses need it)."""
    spec = importlib.util.spec_from_file_location("bench_real_fly", ROOT / "benchmarks" / "bench_real_fly.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_the_benchmark_runs_end_to_end_on_a_synthetic_video(
    tmp_path: Path, synth_video, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sleap_io")
    video, _, _ = synth_video
    labels = formats.save_poses(video, tmp_path / "clip.slp")
    (tmp_path / "critter.yaml").write_text(video.schema.to_yaml())
    tiny = "{preset: tiny, nstack: 1, channels: 8, increase: 4, depth: 2, stem_channels: 4}"
    out = tmp_path / "out"
    settings = [f"schema={tmp_path / 'critter.yaml'}", f"model={tiny}", "input_size=64", "batch_size=3"]
    settings += ["workers=0", "device=cpu", "frame_cache=none"]
    argv = ["--labels", str(labels), "--split", "10", "--minutes", "0.01", "--calibration-steps", "3"]
    figures = load_benchmark(monkeypatch).main([*argv, "--out", str(out), *[f"--set={s}" for s in settings]])
    # Frames 10..15 are labelled; whole 128 px frames are predicted.
    assert figures["frames"] == 6 and figures["predict_input"] == 128 and figures["input_size"] == 64
    assert figures["steps"] >= 2 and figures["train_images_per_s"] > 0 and figures["predict_images_per_s"] > 0
    for method in ("hungarian", "greedy"):
        m = figures["methods"][method]
        assert 0 <= m["AP"] <= 1 and 0 <= m["AP@0.07"] <= 1 and 0 <= m["within_5px"] <= m["within_10px"] <= 1
    saved = json.loads((out / "fly_benchmark.json").read_text())
    assert saved["methods"].keys() == figures["methods"].keys()
    text = (out / "fly_benchmark.txt").read_text()
    assert "hungarian" in text and "target AP >= 0.7" in text

"""The loop benchmark's pipeline, tiny, on synthetic data: train, predict, rank, correct, export, fine-tune
from the weak model on two sources, evaluate (benchmarks/bench_loop.py --preset smoke)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

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
    budget = 3  # 0.3 of the 10 pool images
    assert set(result["runs"]) == {
        "none@0#0",
        *(f"{s}@{budget}#0" for s in ("doubt", "tag", "oracle", "random-1")),
    }
    assert all(0.0 <= ap <= 1.0 for ap in result["runs"].values())
    assert result["summary"][0]["budget"] == budget
    # The corrections went through the project and `export --only edited`: exactly the picked images,
    # holding the true instances.
    root = out / "synth"
    truth = json.loads((root / "data" / "pool" / "annotations.json").read_text())
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
    errors = result["picked_error"]
    assert errors[f"oracle@{budget}"] == max(v for k, v in errors.items() if k.endswith(f"@{budget}"))
    assert np.isfinite(list(errors.values())).all()

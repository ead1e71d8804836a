"""End to end on a custom skeleton: synthesise -> train tiny -> predict -> evaluate; examples smoke-run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from aegroup.schema import PoseSchema
from aegroup.synth import synthesize

ROOT = Path(__file__).resolve().parents[1]
# Defined here, not shipped: the pipeline must work for a skeleton it has never seen.
KITE = PoseSchema(
    name="kite",
    joints=["nose", "centre", "left_wing", "right_wing", "tail"],
    edges=[("nose", "centre"), ("centre", "left_wing"), ("centre", "right_wing"), ("centre", "tail")],
    flip_pairs=[("left_wing", "right_wing")],
    group_order=["centre", "nose", "left_wing", "right_wing", "tail"],
    sigmas=[0.08] * 5,
)


@pytest.fixture(scope="module")
def kite_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train and val splits of synthetic kites (64 px images, up to 2 per image) plus the schema file."""
    root = tmp_path_factory.mktemp("kite")
    (root / "kite.yaml").write_text(KITE.to_yaml())
    synthesize(KITE, root / "train", n_images=96, max_instances=2, size=(64, 64), seed=0)
    synthesize(KITE, root / "val", n_images=16, max_instances=2, size=(80, 64), seed=1)
    return root


def config_overrides(root: Path, out: Path, steps: int) -> list[str]:
    """`--set` overrides that point a config at the kite data and keep the run tiny."""
    return [
        f"schema={root / 'kite.yaml'}",
        f"train.ann_file={root / 'train' / 'annotations.json'}",
        f"train.image_dir={root / 'train' / 'images'}",
        f"val.ann_file={root / 'val' / 'annotations.json'}",
        f"val.image_dir={root / 'val' / 'images'}",
        f"output_dir={out}",
        "input_size=64",
        "batch_size=8",
        f"max_steps={steps}",
        "workers=0",
        "device=cpu",
    ]


def write_config(path: Path, overrides: list[str]) -> Path:
    """A config YAML holding the overrides (dotted keys nested)."""
    import yaml

    data: dict = {}
    for item in overrides:
        key, value = item.split("=", 1)
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(data))
    return path


def val_ap(checkpoint: Path, root: Path, out: Path) -> float:
    """AP on the kite val split of a checkpoint, through `aegroup predict` and `aegroup evaluate`'s code."""
    from aegroup.eval import evaluate
    from aegroup.predict import Predictor
    from aegroup.predict.files import image_list, run_prediction

    gt = root / "val" / "annotations.json"
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    run_prediction(predictor, image_list(KITE, None, gt, root / "val" / "images"), out, progress=False)
    return evaluate(gt, out, KITE)["AP"]


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_trained_tiny_model_beats_untrained(kite_data: Path, tmp_path: Path) -> None:
    import torch

    from aegroup.decode import DecodeConfig
    from aegroup.model import ModelConfig, build_model
    from aegroup.training import load_train_config, train
    from aegroup.training.checkpoint import save_checkpoint

    overrides = config_overrides(kite_data, tmp_path / "run", steps=300)
    # The demo's settings: hinge push with 10x the paper's tag weights separates tags in a few hundred steps.
    overrides += ["optim.lr=0.002", "loss.kind=max", "loss.push_weight=0.01", "loss.pull_weight=0.01"]
    # Synthetic kites are never mirrored: without flip augmentation geometry tells the wings apart.
    overrides += ["augment.flip_prob=0.0", "val_every=1000"]
    config = load_train_config(write_config(tmp_path / "train.yaml", overrides))
    result = train(config)
    trained = val_ap(result.checkpoint, kite_data, tmp_path / "trained.json")

    torch.manual_seed(0)
    model_config = ModelConfig.preset("tiny", KITE.num_joints, input_size=64)
    untrained_ckpt = save_checkpoint(
        tmp_path / "untrained", build_model(model_config), KITE, model_config, DecodeConfig(), 0, 0
    )
    untrained = val_ap(untrained_ckpt, kite_data, tmp_path / "untrained.json")
    # Measured: 0.13 after 300 steps (16 x 16 heatmaps limit precision); an untrained model finds nothing.
    assert untrained < 0.02
    assert trained > untrained + 0.06, (trained, untrained)


def load_example(name: str) -> ModuleType:
    """Import a script from examples/ as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_examples_train_then_predict_export_retrain(kite_data: Path, tmp_path: Path, capsys) -> None:
    config = ROOT / "examples" / "configs" / "my_coco_folder.yaml"
    # An untrained model finds nothing at the default threshold; threshold 0 makes it "predict" anyway.
    first = [
        *config_overrides(kite_data, tmp_path / "first", steps=2),
        "decode.detection_threshold=0.0",
        "decode.max_instances=2",
        "val=null",  # no validation: this only proves the script runs
    ]
    sets = [f"--set={item}" for item in first]
    assert load_example("train_my_coco").main([str(config), *sets]) == 0
    out = capsys.readouterr().out
    assert "train: 96 images" in out and "checkpoint:" in out

    loop = load_example("predict_export_retrain")
    args = [
        str(tmp_path / "first"),
        str(kite_data / "val" / "images"),
        str(config),
        "--out",
        str(tmp_path / "loop"),
    ]
    # The script points the train split and output folder at its own files; the rest keeps the run tiny.
    keep = [
        s
        for s in config_overrides(kite_data, tmp_path, steps=2)
        if not s.startswith(("train.", "output_dir"))
    ]
    code = loop.main([*args, "--min-score", "0", *[f"--set={s}" for s in [*keep, "val=null"]]])
    assert code == 0, capsys.readouterr().err
    exported = json.loads((tmp_path / "loop" / "train.json").read_text())
    assert exported["categories"][0]["keypoints"] == KITE.joints
    assert (tmp_path / "loop" / "retrain" / "last").is_dir()


@pytest.mark.slow
def test_example_skeleton_and_config_are_valid(cli) -> None:
    assert cli("schema", "check", ROOT / "examples" / "skeletons" / "gecko.yaml").code == 0
    from aegroup.training.config import read_config_file

    data = read_config_file(ROOT / "examples" / "configs" / "my_coco_folder.yaml")
    from aegroup.training.config import validate_config

    assert validate_config(data, "my_coco_folder.yaml").model.preset == "tiny"


@pytest.mark.slow
def test_demo_leaves_everything_in_one_folder(tmp_path: Path, cli) -> None:
    out = tmp_path / "demo"
    args = ("--out", out, "--steps", "2", "--train-images", "8", "--val-images", "2", "--device", "cpu")
    result = cli("demo", *args, "--workers", "0")
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["groupers"]) == {"hungarian", "greedy"}
    for entry in metrics["groupers"].values():
        assert {"AP", "AP50", "AR"} <= set(entry["metrics"]) and Path(entry["results"]).is_file()
    assert metrics["train_seconds"] > 0 and metrics["train_images_per_s"] > 0
    assert Path(metrics["checkpoint"], "model.safetensors").is_file()
    label = (
        f"aegroup label --images {out / 'data' / 'val' / 'images'} --results {out / 'results-hungarian.json'}"
    )
    assert metrics["label_command"] == label and label in result.out.replace("\n", "")
    # The saved config reruns as it is.
    from aegroup.training import load_train_config

    saved = load_train_config(out / "train.yaml")
    assert saved.max_steps == 2 and saved.workers == 0


def test_demo_replaces_its_own_output_but_nothing_else(tmp_path: Path) -> None:
    from aegroup.demo import prepare_output
    from aegroup.errors import AegroupError

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(AegroupError, match="not a previous demo output"):
        prepare_output(mine, print)
    assert (mine / "thesis.tex").read_text() == "precious"

    old = tmp_path / "demo"
    for name in (
        "skeleton.yaml",
        "train.yaml",
        "metrics.json",
        "results-greedy.json",
        "train/last/x",
        "notes.txt",
    ):
        (old / name).parent.mkdir(parents=True, exist_ok=True)
        (old / name).write_text("old")
    prepare_output(old, print)
    assert sorted(p.name for p in old.iterdir()) == ["notes.txt"]

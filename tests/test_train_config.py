"""Training config: YAML loading, `--set` overrides, one-line errors naming file and field, CLI exit codes."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml

from aegroup.errors import AegroupError
from aegroup.training.config import TrainConfig, load_train_config, parse_override, save_resolved


def write_config(folder: Path, text: str) -> Path:
    path = folder / "train.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """
schema: coco17
train: {ann_file: data/train.json, image_dir: data/images}
model: {preset: tiny}
"""


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_train_config(write_config(tmp_path, BASE))
    assert config.train.ann_file == tmp_path / "data" / "train.json"  # relative to the config file
    assert config.val is None and config.optim.lr == 2e-4 and config.batch_size == 16
    model = config.resolve_model(17)
    assert (model.num_joints, model.nstack, model.input_size) == (17, 2, 128)


def test_overrides_parse_yaml_values(tmp_path: Path) -> None:
    config = load_train_config(
        write_config(tmp_path, BASE),
        [
            "model.nstack=1",
            "optim.milestones=[0.5, 0.9]",
            "val.ann_file=v.json",
            "val.image_dir=v",
            "input_size=256",
            "optim.schedule=step",
            "max_steps=30",
        ],
    )
    model = config.resolve_model(5)
    assert model.nstack == 1 and model.input_size == 256
    assert config.optim.milestones == [0.5, 0.9] and config.max_steps == 30
    assert config.val is not None and config.val.ann_file == Path("v.json")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["bogus=1"], "field 'bogus': Extra inputs are not permitted"),
        (["optim.lr=fast"], "field 'optim.lr': Input should be a valid number"),
        (["model.nstacks=2"], "field 'model.nstacks': Extra inputs are not permitted"),
        (["model.nstack=0"], "field 'model.nstack': Input should be greater than or equal to 1"),
        (["model.preset=huge"], "field 'model.preset'"),
        (["input_size=100"], "field 'input_size': 100 must be a multiple of 32"),
        (["eval_input_size=1000"], "field 'eval_input_size': 1000 must be a multiple of 32"),
        (["augment.scale_reference=huge"], "field 'augment.scale_reference'"),
        (["augment.center=fly"], "field 'augment.center'"),
        (["device=gpu"], "field 'device'"),
        (["optim.milestones=[1.5]"], "field 'optim.milestones'"),
        (["schema=no_such_skeleton"], "field 'schema': unknown schema 'no_such_skeleton'"),
        (["augment.flip_prob=2"], "field 'augment.flip_prob'"),
        (["decode.nms_kernel=4"], "field 'decode.nms_kernel'"),
        (["val_method=psychic"], "field 'val_method': unknown grouper 'psychic'"),
    ],
)
def test_bad_values_name_file_and_field(tmp_path: Path, overrides: list[str], expected: str) -> None:
    path = write_config(tmp_path, BASE)
    with pytest.raises(AegroupError) as err:
        load_train_config(path, overrides)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path)) and expected in message


@pytest.mark.parametrize("text", ["x", "=3", "a..b=1", "a.b=[unclosed"])
def test_malformed_override(text: str) -> None:
    with pytest.raises(AegroupError, match="--set"):
        parse_override(text)


def test_override_through_a_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AegroupError, match="field 'seed' is not a mapping"):
        load_train_config(write_config(tmp_path, BASE + "seed: 3\n"), ["seed.x=1"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train: [1, 2\n", "not valid YAML"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("schema: coco17\n", "'train'"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(AegroupError, match=expected):
        load_train_config(write_config(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AegroupError, match="config file not found"):
        load_train_config(tmp_path / "absent.yaml")


def test_resolved_yaml_reloads_to_the_same_config(tmp_path: Path) -> None:
    config = load_train_config(write_config(tmp_path, BASE), ["model.tag_dim=2", "optim.lr=1e-3"])
    saved = save_resolved(config, tmp_path / "out" / "config.yaml", config.resolve_model(17))
    data = yaml.safe_load(saved.read_text())
    assert data["model"]["channels"] == 32 and data["input_size"] == 128  # every size written out
    again = load_train_config(saved)
    assert again.resolve_model(17) == config.resolve_model(17)
    skip = {"model", "input_size", "output_dir"}
    assert again.model_dump(exclude=skip) == config.model_dump(exclude=skip)
    assert again.output_dir == config.output_dir.resolve()


def test_every_field_is_documented() -> None:
    sections = [
        f.annotation for f in TrainConfig.model_fields.values() if hasattr(f.annotation, "model_fields")
    ]
    for model in (TrainConfig, *sections):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_cli_unknown_field_exits_2(tmp_path: Path, cli) -> None:
    path = write_config(tmp_path, BASE + "epochz: 3\n")
    result = cli("train", path)
    assert result.code == 2
    assert result.err.strip() == f"error: {path}: field 'epochz': Extra inputs are not permitted"


def test_cli_bad_override_type_exits_2(tmp_path: Path, cli) -> None:
    result = cli("train", write_config(tmp_path, BASE), "--set", "batch_size=many")
    assert (
        result.code == 2 and "field 'batch_size'" in result.err and len(result.err.strip().splitlines()) == 1
    )


def test_cli_help(cli) -> None:
    result = cli("train", "--help")
    assert result.code == 0 and "--resume" in result.out and "--set" in result.out


def test_training_docs_hold_the_generated_reference() -> None:
    from aegroup.training.reference import config_reference

    page = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text(encoding="utf-8")
    hint = "docs/training.md config reference is stale: paste `python -m aegroup.training.reference` output"
    assert config_reference() in page, hint


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # warm-up 2 of 10 steps, then: cosine from 1 to 0.01, steps x0.1 at 50%, constant.
        (
            "cosine",
            [0.5, 1.0, 1.0, 0.0100 + 0.99 * (1 + math.cos(math.pi / 8)) / 2, None, None, None, None, None],
        ),
        ("step", [0.5, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1]),
        ("constant", [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_lr_schedule(schedule: str, expected: list[float | None]) -> None:
    from aegroup.training.config import OptimConfig
    from aegroup.training.optim import lr_factor

    cfg = OptimConfig(schedule=schedule, warmup_steps=2, milestones=[0.5])
    got = [lr_factor(step, 10, cfg) for step in range(9)]
    for value, want in zip(got, expected, strict=True):
        if want is not None:
            assert value == pytest.approx(want)
    assert all(a >= b for a, b in itertools.pairwise(got[1:]))  # never rises after warm-up
    if schedule == "cosine":
        assert lr_factor(10, 10, cfg) == pytest.approx(0.01)


def test_schema_defaults_to_the_train_files_category(tmp_path: Path, synth_set) -> None:
    ann, images, schema = synth_set
    path = write_config(tmp_path, f"train: {{ann_file: {ann}, image_dir: {images}}}\n")
    config = load_train_config(path)
    assert config.schema_ is None
    assert config.resolve_schema().joints == schema.joints


MIXED = """
schema: coco17
train:
  - {ann_file: data/train.json, image_dir: data/images}
  - {ann_file: fixes/corrected.json, weight: 3}
  - {ann_file: clip.slp, video: videos/clip.mp4, frames: [0, 1200], weight: 0.5}
val: {ann_file: clip.slp, frames: [1200, null]}
init_from: runs/first
"""


def test_several_training_sources_with_weights(tmp_path: Path) -> None:
    config = load_train_config(write_config(tmp_path, MIXED))
    splits = config.train_splits
    assert [s.weight for s in splits] == [1.0, 3.0, 0.5]
    files = [tmp_path / "data/train.json", tmp_path / "fixes/corrected.json", tmp_path / "clip.slp"]
    assert [s.ann_file for s in splits] == files
    assert splits[1].image_dir is None
    assert splits[2].video == tmp_path / "videos/clip.mp4" and splits[2].frames == (0, 1200)
    assert config.val is not None and config.val.frames == (1200, None)
    assert config.init_from == tmp_path / "runs/first"
    assert [config.train_field(i) for i in range(3)] == ["train[0]", "train[1]", "train[2]"]
    single = load_train_config(write_config(tmp_path, BASE))
    assert single.train_splits == [single.train] and single.train_field(0) == "train"
    assert single.train.weight == 1.0 and single.init_from is None and single.frame_cache == "auto"


def test_sources_are_overridden_by_index_and_saved_resolved(tmp_path: Path) -> None:
    config = load_train_config(write_config(tmp_path, MIXED), ["train.1.weight=2", "train.2.frames=[0, 900]"])
    assert config.train_splits[1].weight == 2 and config.train_splits[2].frames == (0, 900)
    with pytest.raises(
        AegroupError, match=r"--set 'train\.3\.weight=1': field 'train\.3': not an index of the 3 entries"
    ):
        load_train_config(write_config(tmp_path, MIXED), ["train.3.weight=1"])
    saved = save_resolved(config, tmp_path / "out" / "config.yaml", config.resolve_model(17))
    data = yaml.safe_load(saved.read_text())
    assert data["train"][2]["video"] == str(tmp_path / "videos/clip.mp4")
    assert data["train"][2]["frames"] == [0, 900] and data["init_from"] == str(tmp_path / "runs/first")
    again = load_train_config(saved)
    assert again.train_splits == config.train_splits and again.val == config.val


@pytest.mark.parametrize(
    ("train", "expected"),
    [
        (
            "[{ann_file: a.json}, {ann_file: b.json, weight: 0}]",
            "field 'train[1].weight': Input should be greater",
        ),
        ("[{ann_file: a.json}, {image_dir: x}]", "field 'train[1].ann_file': Field required"),
        ("{image_dir: x}", "field 'train.ann_file': Field required"),
        ("{ann_file: a.json, frames: [5, 5]}", "field 'train.frames': [5, 5] selects no frames"),
        ("{ann_file: a.json, frames: [-1, 5]}", "field 'train.frames': [-1, 5] selects no frames"),
        ("[]", "field 'train': the list of training sources is empty"),
        ("3", "field 'train': Input should be a valid dictionary"),
    ],
)
def test_bad_sources_name_file_and_field(tmp_path: Path, train: str, expected: str) -> None:
    path = write_config(tmp_path, f"schema: coco17\ntrain: {train}\n")
    with pytest.raises(AegroupError) as err:
        load_train_config(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and expected in message

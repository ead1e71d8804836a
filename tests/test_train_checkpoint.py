"""Checkpoints: bit-exact round trip, weights-only training state, one-line errors for damaged files."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from aegroup.decode import DecodeConfig
from aegroup.errors import AegroupError
from aegroup.model import ModelConfig, build_model
from aegroup.schema import load_schema
from aegroup.training.checkpoint import (
    SIDECAR,
    STATE,
    WEIGHTS,
    capture_rng,
    find_checkpoint,
    load_checkpoint,
    load_model,
    load_training_state,
    restore_rng,
    save_checkpoint,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Payload:
    """An arbitrary object: loading a checkpoint must never unpickle one of these."""

    def __reduce__(self):  # what an attacker's pickle would do on load
        return (print, ("unpickled!",))


@pytest.fixture
def model_config() -> ModelConfig:
    return ModelConfig.preset(
        "tiny", num_joints=17, nstack=1, channels=8, increase=4, depth=2, stem_channels=4, input_size=64
    )


def trained_state(model: torch.nn.Module) -> dict:
    """Optimiser state after one step, so it holds tensors (exp_avg, step) and not only hyperparameters."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 64, 64)).heatmaps[-1].square().mean().backward()
    optimizer.step()
    return {"optimizer": optimizer.state_dict(), "rng": capture_rng(), "progress": {"epoch": 1, "step": 7}}


def test_round_trip_is_bit_exact(tmp_path: Path, model_config: ModelConfig) -> None:
    model = build_model(model_config)
    state = trained_state(model)
    schema = load_schema("coco17")
    decode = DecodeConfig(detection_threshold=0.2)
    folder = save_checkpoint(
        tmp_path / "ck",
        model,
        schema,
        model_config,
        decode,
        epoch=3,
        step=42,
        metrics={"AP": 0.5},
        training_state=state,
    )
    assert sorted(p.name for p in folder.iterdir()) == [SIDECAR, WEIGHTS, STATE]
    loaded = load_checkpoint(folder / WEIGHTS)  # a file inside the folder works too
    assert loaded.schema == schema and loaded.model_config == model_config and loaded.decode_config == decode
    assert (loaded.epoch, loaded.step, loaded.metrics, loaded.input_size) == (3, 42, {"AP": 0.5}, 64)
    original = model.state_dict()
    assert loaded.state_dict.keys() == original.keys()
    for key, value in original.items():
        assert loaded.state_dict[key].dtype == value.dtype and torch.equal(loaded.state_dict[key], value), key
    rebuilt, _ = load_model(tmp_path / "ck")
    assert not rebuilt.training
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(rebuilt(x).heatmaps[0], model.eval()(x).heatmaps[0])
    again = load_training_state(folder)
    for key, value in state["optimizer"]["state"][0].items():
        assert torch.equal(again["optimizer"]["state"][0][key], value)
    assert again["progress"] == {"epoch": 1, "step": 7}


def test_rng_capture_and_restore() -> None:
    state = capture_rng()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_a_run_folder_resolves_to_best_then_last(tmp_path: Path, model_config: ModelConfig) -> None:
    model, schema, decode = build_model(model_config), load_schema("coco17"), DecodeConfig()
    save_checkpoint(tmp_path / "last", model, schema, model_config, decode, epoch=1, step=1)
    assert find_checkpoint(tmp_path) == tmp_path / "last"
    save_checkpoint(tmp_path / "best", model, schema, model_config, decode, epoch=1, step=1)
    assert find_checkpoint(tmp_path) == tmp_path / "best"


def test_overwriting_replaces_the_whole_folder(tmp_path: Path, model_config: ModelConfig) -> None:
    model, schema, decode = build_model(model_config), load_schema("coco17"), DecodeConfig()
    save_checkpoint(tmp_path / "last", model, schema, model_config, decode, 0, 1, training_state={"a": 1})
    save_checkpoint(tmp_path / "last", model, schema, model_config, decode, 0, 2)
    assert load_checkpoint(tmp_path / "last").step == 2
    assert not (tmp_path / "last" / STATE).exists()  # no stale file from the previous checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def test_pickled_objects_are_refused(tmp_path: Path, model_config: ModelConfig, capsys) -> None:
    model = build_model(model_config)
    folder = save_checkpoint(
        tmp_path / "ck",
        model,
        load_schema("coco17"),
        model_config,
        DecodeConfig(),
        0,
        1,
        training_state={"evil": Payload()},
    )
    with pytest.raises(AegroupError, match="refused to load training state") as err:
        load_training_state(folder)
    assert "\n" not in str(err.value)
    assert "unpickled!" not in capsys.readouterr().out


def test_a_pickle_in_place_of_weights_is_refused(tmp_path: Path, model_config: ModelConfig) -> None:
    model = build_model(model_config)
    folder = save_checkpoint(
        tmp_path / "ck", model, load_schema("coco17"), model_config, DecodeConfig(), 0, 1
    )
    buffer = io.BytesIO()
    torch.save({"evil": Payload()}, buffer)
    (folder / WEIGHTS).write_bytes(buffer.getvalue())
    sidecar = json.loads((folder / SIDECAR).read_text())
    sidecar["files"][WEIGHTS] = __import__("hashlib").sha256(buffer.getvalue()).hexdigest()
    (folder / SIDECAR).write_text(json.dumps(sidecar))
    with pytest.raises(AegroupError, match="corrupt weights"):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:-10]), "SHA-256 differs"),
        (lambda f: (f / SIDECAR).write_text("{not json"), "corrupt checkpoint sidecar"),
        (lambda f: (f / WEIGHTS).unlink(), "cannot read checkpoint file"),
        (lambda f: (f / SIDECAR).write_text('{"format": "other"}'), "field 'format'"),
        (lambda f: _edit_sidecar(f, model_config={"num_joints": 0}), "field 'num_joints'"),
        (lambda f: _edit_sidecar(f, version=99), "field 'version'"),
        (lambda f: _edit_sidecar(f, input_size="big"), "field 'input_size': 'big' is not a positive"),
    ],
)
def test_damaged_checkpoints_give_one_line(
    tmp_path: Path, model_config: ModelConfig, damage, expected
) -> None:
    folder = save_checkpoint(
        tmp_path / "ck", build_model(model_config), load_schema("coco17"), model_config, DecodeConfig(), 0, 1
    )
    damage(folder)
    with pytest.raises(AegroupError, match=expected) as err:
        load_model(folder)
    assert "\n" not in str(err.value)


def _edit_sidecar(folder: Path, **fields) -> None:
    data = json.loads((folder / SIDECAR).read_text())
    data.update(fields)
    (folder / SIDECAR).write_text(json.dumps(data))


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(AegroupError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(AegroupError, match="not a checkpoint"):
        load_checkpoint(tmp_path)


def test_weights_of_another_model_are_a_user_error(tmp_path: Path, model_config: ModelConfig) -> None:
    other = model_config.model_copy(update={"channels": 12})
    folder = save_checkpoint(
        tmp_path / "ck", build_model(other), load_schema("coco17"), model_config, DecodeConfig(), 0, 1
    )
    with pytest.raises(AegroupError, match="weights do not fit the model config"):
        load_model(folder)

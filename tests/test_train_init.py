"""Fine-tuning: `--init-from` loads only weights; a checkpoint of another skeleton or sizes is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import train_configs
import yaml
from train_configs import synth_source

from aegroup.decode import DecodeConfig
from aegroup.errors import AegroupError
from aegroup.model import build_model
from aegroup.training import load_checkpoint, load_train_config, save_checkpoint, train
from aegroup.training.checkpoint import unwrap
from aegroup.training.distributed import DistEnv
from aegroup.training.session import build_session

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_config(folder: Path, synth_set, **fields) -> Path:
    """A config of a very small model on the synthetic set, 64-pixel inputs, batch 4, 2 steps."""
    base = {"train": synth_source(synth_set), "batch_size": 4, "max_steps": 2}
    return train_configs.write_config(folder, synth_set[2], **{**base, **fields})


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, synth_set) -> Path:
    """The run folder of two training steps on the synthetic set."""
    folder = tmp_path_factory.mktemp("first")
    train(load_train_config(write_config(folder, synth_set)))
    return folder / "out"


def test_init_from_loads_the_weights_and_starts_afresh(tmp_path: Path, synth_set, first_run: Path) -> None:
    # Relative to the config file, like every path in it; a run folder means its best/ or last/.
    path = write_config(
        tmp_path, synth_set, init_from=str(Path("..") / first_run.relative_to(tmp_path.parent))
    )
    config = load_train_config(path, ["optim.lr=5e-4", "input_size=96"])  # another input size is fine
    assert config.init_from == tmp_path / ".." / first_run.relative_to(tmp_path.parent)
    session = build_session(config, DistEnv(), torch.device("cpu"), resume=False)
    expected = load_checkpoint(first_run).state_dict
    loaded = unwrap(session.model).state_dict()
    assert loaded.keys() == expected.keys()
    for key in expected:
        assert torch.equal(loaded[key], expected[key]), key
    assert session.state.step == 0 and session.optimizer.state_dict()["state"] == {}
    assert session.scheduler.last_epoch == 0 and session.notes[-1] == f"weights from {config.init_from}"
    saved = yaml.safe_load((config.output_dir / "config.yaml").read_text())
    assert saved["init_from"] == str(first_run.resolve())


def test_a_fresh_run_does_not_start_from_those_weights(tmp_path: Path, synth_set, first_run: Path) -> None:
    session = build_session(
        load_train_config(write_config(tmp_path, synth_set)), DistEnv(), torch.device("cpu"), resume=False
    )
    expected = load_checkpoint(first_run).state_dict
    loaded = unwrap(session.model).state_dict()
    assert not all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_cli_init_from_fine_tunes_and_records_it(tmp_path: Path, synth_set, first_run: Path, cli) -> None:
    path = write_config(tmp_path, synth_set)
    result = cli("train", path, "--init-from", first_run / "last" / "model.safetensors")
    assert result.code == 0, result.err
    saved = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert saved["init_from"] == str((first_run / "last" / "model.safetensors").resolve())
    assert load_checkpoint(tmp_path / "out").step == 2


def test_init_from_with_resume_is_refused(tmp_path: Path, synth_set, first_run: Path, cli) -> None:
    result = cli("train", write_config(tmp_path, synth_set), "--resume", "--init-from", first_run)
    assert result.code == 2
    assert result.err.strip() == (
        "error: --init-from: cannot be combined with --resume, which continues from the run's last/"
    )


def test_a_checkpoint_of_another_skeleton_is_refused(tmp_path: Path, synth_set, first_run: Path, cli) -> None:
    checkpoint = load_checkpoint(first_run)
    joints = [f"node{i}" for i in range(checkpoint.schema.num_joints)]
    other = checkpoint.schema.model_copy(
        update={"name": "other", "joints": joints, "edges": [], "flip_pairs": [], "group_order": None}
    )
    model = build_model(checkpoint.model_config)
    model.load_state_dict(checkpoint.state_dict)
    foreign = save_checkpoint(
        tmp_path / "foreign", model, other, checkpoint.model_config, DecodeConfig(), 0, 0
    )
    result = cli("train", write_config(tmp_path / "run", synth_set), "--init-from", foreign)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert result.err.startswith(f"error: {foreign}: was trained on the joints of 'other' (node0, node1,")
    assert f"not those of '{checkpoint.schema.name}' (hub, mast," in result.err


def test_a_checkpoint_of_other_model_sizes_is_refused(tmp_path: Path, synth_set, first_run: Path) -> None:
    path = write_config(tmp_path, synth_set, init_from=str(first_run))
    config = load_train_config(path, ["model.channels=12", "model.tag_dim=2"])
    with pytest.raises(AegroupError) as err:
        build_session(config, DistEnv(), torch.device("cpu"), resume=False)
    assert str(err.value) == (
        f"{first_run / 'last'}: field 'model' differs from the config's: tag_dim 1 (config: 2), channels 8 "
        "(config: 12); set the same sizes under 'model:' to start from it"
    )


def test_resuming_a_fine_tuning_run_continues_from_last(tmp_path: Path, synth_set, first_run: Path) -> None:
    path = write_config(tmp_path, synth_set, init_from=str(first_run), max_steps=3)
    done = train(load_train_config(path))
    assert done.steps == 3
    again = load_train_config(path, ["max_steps=4"])
    session = build_session(again, DistEnv(), torch.device("cpu"), resume=True)
    assert session.state.step == 3  # the weights come from last/, not from init_from
    last = load_checkpoint(tmp_path / "out" / "last").state_dict
    loaded = unwrap(session.model).state_dict()
    assert all(torch.equal(loaded[k], last[k]) for k in last)

"""Training loop: tiny runs end to end, exact resume after an interruption, two gloo processes (torchrun)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import train_configs
import yaml
from safetensors.torch import load_file
from train_configs import synth_source

import aegroup.training.loop as loop
from aegroup.training import load_checkpoint, load_model, train
from aegroup.training.checkpoint import load_training_state
from aegroup.training.config import TrainConfig, load_train_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write_config(folder: Path, synth_set, **fields) -> Path:
    """A config for the tiny synthetic set: 64-pixel inputs, a very small model, batch 3 (3 steps/epoch)."""
    base = {"train": synth_source(synth_set), "optim": {"lr": 1e-3, "warmup_steps": 2}}
    return train_configs.write_config(folder, synth_set[2], **{**base, **fields})


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_resume_after_interruption_matches_an_uninterrupted_run(
    tmp_path: Path, synth_set, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    # Loader workers must not matter: the uninterrupted run uses two, the interrupted one none.
    whole = load_train_config(write_config(tmp_path / "a", synth_set, workers=2))
    result = train(whole)
    assert (result.steps, result.epochs, result.best_checkpoint) == (6, 2, None)

    # Kill run b while it computes step 5: its last checkpoint is step 4, one batch into epoch 1.
    cut = load_train_config(write_config(tmp_path / "b", synth_set))
    real_step = loop.train_step

    def dying_step(session, batch):
        if session.state.step == 4:
            raise KeyboardInterrupt
        return real_step(session, batch)

    monkeypatch.setattr(loop, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train(cut)
    assert load_checkpoint(cut.output_dir / "last").step == 4
    assert [r["step"] for r in csv_rows(cut.output_dir / "train_log.csv")] == ["1", "2", "3", "4"]
    monkeypatch.setattr(loop, "train_step", real_step)
    resumed = train(cut, resume=True)
    assert resumed.steps == 6

    a, b = load_checkpoint(whole.output_dir / "last"), load_checkpoint(cut.output_dir / "last")
    assert a.state_dict.keys() == b.state_dict.keys()
    for key in a.state_dict:
        assert torch.equal(a.state_dict[key], b.state_dict[key]), key
    opt_a = load_training_state(whole.output_dir / "last")["optimizer"]["state"]
    opt_b = load_training_state(cut.output_dir / "last")["optimizer"]["state"]
    for index in opt_a:
        for key in opt_a[index]:
            assert torch.equal(opt_a[index][key], opt_b[index][key])
    rows_a = csv_rows(whole.output_dir / "train_log.csv")
    rows_b = csv_rows(cut.output_dir / "train_log.csv")
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]  # same data order, same losses


def test_run_with_validation_writes_outputs(tmp_path: Path, synth_set) -> None:
    ann, images, _ = synth_set
    val = {"ann_file": str(ann), "image_dir": str(images)}
    config = load_train_config(write_config(tmp_path, synth_set, val=val, max_steps=4, epochs=5))
    result = train(config)
    out = config.output_dir
    assert result.steps == 4 and result.checkpoint == out / "best" and set(result.metrics) >= {"AP", "AR"}
    assert result.images_per_s > 0
    val_rows = csv_rows(out / "val_log.csv")
    assert [r["step"] for r in val_rows] == ["3", "4"]  # after epoch 1 and at the last step
    saved = TrainConfig.model_validate(yaml.safe_load((out / "config.yaml").read_text()))
    assert saved.max_steps == 4 and saved.model.model_extra["channels"] == 8
    model, checkpoint = load_model(result.checkpoint)
    assert checkpoint.schema == synth_set[2] and checkpoint.input_size == 64 and not model.training


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path: Path, synth_set, cli) -> None:
    path = write_config(tmp_path, synth_set, max_steps=1)
    first = cli("train", path)
    assert first.code == 0, first.err
    assert "checkpoint:" in first.out
    again = cli("train", path)
    assert again.code == 2 and "holds a previous run; pass --resume" in again.err
    fresh = cli("train", path, "--resume", "--out", tmp_path / "elsewhere")
    assert fresh.code == 2 and "no checkpoint to resume from" in fresh.err
    other = cli("train", path, "--resume", "--set", "model.channels=12")
    assert other.code == 2 and "field 'model' differs" in other.err


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path: Path, synth_set) -> None:
    ann, images, _ = synth_set
    val = {"ann_file": str(ann), "image_dir": str(images)}
    # A detection threshold of 0 makes the untrained model predict on every image, so the gathered
    # validation must cover all 8 images, 4 decoded on each rank.
    path = write_config(tmp_path, synth_set, val=val, batch_size=2, decode={"detection_threshold": 0.0})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_train_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    done = subprocess.run(
        [*command, str(worker), str(path), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    w0, w1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["steps"] == r1["steps"] == 4  # 8 images / 2 ranks / batch 2 = 2 steps per epoch, 2 epochs
    assert r0["metrics"] == r1["metrics"]
    all_ids = sorted(json.loads(ann.read_text())["images"][i]["id"] for i in range(8))
    assert r0["evaluated"] == [all_ids, all_ids] and r1["evaluated"] == []
    steps = [r["step"] for r in csv_rows(tmp_path / "out" / "train_log.csv")]
    assert steps == ["1", "2", "3", "4"]  # rank 0 alone logs
    saved = load_file(tmp_path / "out" / "last" / "model.safetensors")
    assert all(torch.equal(saved[k], w0[k]) for k in w0)


@pytest.mark.slow
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path: Path, synth_set) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    fields = {"epochs": 6, "checkpoint_every": 1}
    whole = train(load_train_config(write_config(tmp_path / "a", synth_set, **fields)))
    path = write_config(tmp_path / "b", synth_set, **fields)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "aegroup", "train", str(path)], env=env)
    log = tmp_path / "b" / "out" / "train_log.csv"
    deadline = time.monotonic() + 120
    # SIGKILL once two steps are logged: possibly in the middle of writing a checkpoint.
    while process.poll() is None and time.monotonic() < deadline:
        if log.is_file() and len(log.read_text().splitlines()) > 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert load_checkpoint(tmp_path / "b" / "out").step < whole.steps
    resumed = train(load_train_config(path), resume=True)
    assert resumed.steps == whole.steps == 18
    a, b = load_checkpoint(whole.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    for key in a.state_dict:
        assert torch.equal(a.state_dict[key], b.state_dict[key]), key

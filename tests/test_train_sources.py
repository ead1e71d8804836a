"""Training from any pose file: video frames, frame-range splits, mixed sources with weights, exact resume."""

from __future__ import annotations

import csv
import pickle
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from conftest import PREDICTED_ONLY, UNLABELLED, real_data_root
from torch.utils.data import DistributedSampler
from train_configs import write_config

import aegroup.training.loop as loop
from aegroup.errors import AegroupError
from aegroup.io import formats
from aegroup.io.poses import PoseSet, VideoRef
from aegroup.training import load_checkpoint, load_train_config, train
from aegroup.training.distributed import DistEnv, ResumableSampler, source_draws
from aegroup.training.loaders import SeededSamples, open_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def pickled_poses(monkeypatch: pytest.MonkeyPatch):
    """A test-only pose format in `load_poses`' table: `.poses` files holding a pickled `PoseSet`.

    Training reaches every format through `load_poses`, so a video-backed set stored this way trains the
    way a SLEAP file does once its reader is registered. Returns a function that writes such a file.
    """

    def read(path: Path, *, schema, video) -> PoseSet:
        poses = pickle.loads(path.read_bytes())
        return poses if video is None else replace(poses, videos=[VideoRef(str(video))])

    monkeypatch.setitem(formats.FORMATS, "pickled", formats.PoseFormat("pickled PoseSet", read, None))
    detect = formats.detect_format
    monkeypatch.setattr(
        formats, "detect_format", lambda p: "pickled" if Path(p).suffix == ".poses" else detect(p)
    )

    def write(poses: PoseSet, path: Path) -> Path:
        path.write_bytes(pickle.dumps(poses))
        return path

    return write


LABELLED = [j for j in range(16) if j not in (*UNLABELLED, PREDICTED_ONLY)]


def test_frame_range_split_of_a_video_trains_and_validates(
    tmp_path: Path, synth_video, pickled_poses
) -> None:
    video, _, _ = synth_video
    labels = pickled_poses(video, tmp_path / "clip.poses")
    split = {
        "train": {"ann_file": labels.name, "frames": [0, 10]},
        "val": {"ann_file": labels.name, "frames": [10, None]},
    }
    config = load_train_config(write_config(tmp_path, video.schema, **split, max_steps=3))
    data = open_data(config, video.schema, DistEnv(), pin_memory=False)
    train_ids = data.loader.dataset.dataset.image_ids
    assert train_ids == [100 + j for j in LABELLED if j < 10]
    assert [i["id"] for i in data.val_truth["images"]] == [100 + j for j in LABELLED if j >= 10]
    assert data.notes and data.notes[0].startswith(f"decoded {len(LABELLED)} video frames into memory")
    result = train(config)
    assert result.steps == 3 and set(result.metrics) >= {"AP", "AR"}
    saved = yaml.safe_load((config.output_dir / "config.yaml").read_text())
    assert saved["train"]["frames"] == [0, 10] and saved["train"]["ann_file"] == str(labels)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"val": {"ann_file": "clip.poses", "frames": [10, 17]}},
            r"field 'val\.frames': \[10, 17\) is not a range within .*clip\.mp4 \(0 to 16 frames\)",
        ),
        (
            {"val": {"ann_file": "clip.poses", "frames": [5, 7]}},
            r"field 'val\.frames': \[5, 7\) holds none of the 12 labelled frames",
        ),
        (
            {"val": {"ann_file": "clip.poses", "frames": [7, 5]}},
            r"field 'val\.frames': \[7, 5\] selects no frames",
        ),
        (
            {"val": {"ann_file": "clip.poses", "categories": [1]}},
            r"field 'val\.categories': only COCO files have categories",
        ),
        (
            {"val": {"ann_file": "clip.poses", "video": "elsewhere.mp4"}},
            r"elsewhere\.mp4: video file not found \(named by .*clip\.poses",
        ),
    ],
)
def test_bad_video_splits_name_the_config_and_field(
    tmp_path: Path, synth_video, pickled_poses, fields: dict, problem: str
) -> None:
    video, _, _ = synth_video
    pickled_poses(video, tmp_path / "clip.poses")
    path = write_config(tmp_path, video.schema, train={"ann_file": "clip.poses"}, **fields)
    with pytest.raises(AegroupError) as err:
        train(load_train_config(path))
    message = str(err.value)
    assert "\n" not in message
    assert __import__("re").search(problem, message), message
    if "field" in problem:
        assert message.startswith(f"{path}: field")


def test_a_frame_range_of_a_coco_file_is_an_error(tmp_path: Path, synth_set) -> None:
    ann, images, schema = synth_set
    split = {"ann_file": str(ann), "image_dir": str(images), "frames": [0, 3]}
    path = write_config(tmp_path, schema, train=[{"ann_file": str(ann), "image_dir": str(images)}, split])
    with pytest.raises(
        AegroupError, match=rf"^{path}: field 'train\[1\]\.frames': .* is a COCO file of images"
    ):
        train(load_train_config(path))


@pytest.mark.parametrize("world", [1, 2, 3])
def test_each_source_is_drawn_by_its_weight_exactly(world: int) -> None:
    sizes, weights = [5, 3, 4, 7], [1.0, 2.0, 0.5, 1.5]
    assert [source_draws(n, w) for n, w in zip(sizes, weights, strict=True)] == [5, 6, 2, 11]
    offsets = [0, 5, 8, 12, 19]
    source_of = {i: s for s in range(4) for i in range(offsets[s], offsets[s + 1])}
    ranks = [ResumableSampler(sizes, weights, DistEnv(r, r, world), seed=4) for r in range(world)]
    for epoch in range(3):
        samples = ranks[0].epoch_samples(epoch)
        per_image = Counter(index for index, _ in samples)
        per_source = Counter(source_of[index] for index, _ in samples)
        assert [per_source[s] for s in range(4)] == [5, 6, 2, 11]
        assert {per_image[i] for i in range(5)} == {1} and {per_image[i] for i in range(5, 8)} == {2}
        assert sorted(per_image[i] for i in range(8, 12)) == [0, 0, 1, 1]
        assert sorted(per_image[i] for i in range(12, 19)) == [1, 1, 1, 2, 2, 2, 2]
        # Copies of one image within the epoch are numbered apart, so their augmentation differs.
        assert len(set(samples)) == len(samples)
        dealt = []
        for sampler in ranks:
            sampler.set_position(epoch)
            keys = list(sampler)
            assert len(keys) == sampler.per_epoch == -(-24 // world) and {k[0] for k in keys} == {epoch}
            dealt += [k[1:] for k in keys]
        padding = len(dealt) - len(samples)
        assert Counter(dealt) == Counter(samples + samples[:padding])


def test_the_weighted_order_is_a_pure_function_of_seed_and_epoch() -> None:
    sizes, weights = [6, 4], [1.0, 0.5]
    a, b = (
        ResumableSampler(sizes, weights, DistEnv(), seed=1),
        ResumableSampler(sizes, weights, DistEnv(), seed=1),
    )
    assert a.epoch_samples(3) == b.epoch_samples(3)
    assert a.epoch_samples(3) != a.epoch_samples(4)
    picks = {tuple(sorted(i for i, _ in a.epoch_samples(e) if i >= 6)) for e in range(8)}
    assert len(picks) > 1  # the half of source 2 drawn changes between epochs
    a.set_position(2)
    whole = list(a)
    a.set_position(2, start=4)
    assert list(a) == whole[4:] and len(a) == len(whole) - 4


def test_one_source_of_weight_one_keeps_the_distributed_sampler_order() -> None:
    for rank in (0, 1):
        ours = ResumableSampler([11], [1.0], DistEnv(rank, rank, 2), seed=7)
        theirs = DistributedSampler(range(11), num_replicas=2, rank=rank, shuffle=True, seed=7)
        ours.set_position(5)
        theirs.set_epoch(5)
        assert [index for _, index, copy in ours] == list(theirs)


def test_copies_of_an_image_are_augmented_differently(synth_set) -> None:
    from aegroup.data import CocoPoseDataset

    ann, images, schema = synth_set
    keyed = SeededSamples(CocoPoseDataset(ann, images, schema, train=True, input_size=64), seed=0)
    first, again, second = keyed[(1, 2, 0)], keyed[(1, 2, 0)], keyed[(1, 2, 1)]
    assert torch.equal(first["image"], again["image"])
    assert not torch.equal(first["image"], second["image"])


def csv_column(path: Path, name: str) -> list[str]:
    with path.open(newline="") as handle:
        return [row[name] for row in csv.DictReader(handle)]


def test_resume_over_mixed_sources_matches_an_uninterrupted_run(
    tmp_path: Path, synth_set, synth_video, pickled_poses, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, images, schema = synth_set
    video, _, _ = synth_video
    runs = []
    for name in ("whole", "cut"):
        folder = tmp_path / name
        folder.mkdir()
        pickled_poses(video, folder / "clip.poses")
        sources = [
            {"ann_file": str(ann), "image_dir": str(images)},
            {"ann_file": "clip.poses", "frames": [0, 8], "weight": 1.5},  # 5 labelled frames -> 8 draws
        ]
        runs.append(load_train_config(write_config(folder, schema, train=sources, frame_cache="none")))
    whole, cut = runs
    assert train(whole).steps == 2 * 6  # (8 + 8) samples / batch 3 -> 6 steps per epoch

    real_step = loop.train_step

    def dying_step(session, batch):
        if session.state.step == 8:
            raise KeyboardInterrupt
        return real_step(session, batch)

    monkeypatch.setattr(loop, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train(cut)
    monkeypatch.setattr(loop, "train_step", real_step)
    assert load_checkpoint(cut.output_dir / "last").step == 8
    assert train(cut, resume=True).steps == 12
    a, b = load_checkpoint(whole.output_dir / "last"), load_checkpoint(cut.output_dir / "last")
    for key in a.state_dict:
        assert torch.equal(a.state_dict[key], b.state_dict[key]), key
    log = "train_log.csv"
    assert csv_column(whole.output_dir / log, "loss") == csv_column(cut.output_dir / log, "loss")


def test_sources_of_another_skeleton_are_refused(
    tmp_path: Path, synth_set, synth_video, pickled_poses
) -> None:
    ann, images, schema = synth_set
    video, _, _ = synth_video
    renamed = replace(
        video,
        schema=schema.model_copy(
            update={
                "joints": [f"j{i}" for i in range(schema.num_joints)],
                "edges": [],
                "flip_pairs": [],
                "group_order": None,
            }
        ),
    )
    pickled_poses(renamed, tmp_path / "other.poses")
    sources = [{"ann_file": str(ann), "image_dir": str(images)}, {"ann_file": "other.poses"}]
    path = write_config(tmp_path, schema, train=sources)
    with pytest.raises(AegroupError) as err:
        train(load_train_config(path))
    message = str(err.value)
    assert message.startswith(
        f"{path}: field 'train[1].ann_file': {tmp_path / 'other.poses'} has joints ['j0'"
    )
    assert "\n" not in message and f"the run's schema '{schema.name}'" in message


def test_training_straight_from_the_shared_slp(tmp_path: Path) -> None:
    slp = real_data_root() / "sleap" / "clip.slp"
    if not slp.is_file():
        pytest.skip(f"real test data not found at {slp} (set AEGROUP_TEST_DATA to the shared data folder)")
    try:
        schema = formats.load_poses(slp).schema
    except AegroupError as err:
        pytest.skip(f"load_poses cannot read .slp files yet ({err})")
    split = {
        "train": {"ann_file": str(slp), "frames": [0, 6]},
        "val": {"ann_file": str(slp), "frames": [1200, 1203]},
    }
    config = load_train_config(write_config(tmp_path, schema, **split, max_steps=2, batch_size=2, workers=2))
    result = train(config)
    assert result.steps == 2 and "AP" in result.metrics
    assert load_checkpoint(result.checkpoint).schema.joints == schema.joints


@pytest.mark.parametrize(
    ("fields", "eval_size"),
    [
        # Native-scale crops validate and predict on whole frames: the 128 px frames, a multiple of 16.
        ({"augment": {"scale_reference": "native", "center": "instance", "rotation": 180}}, 128),
        ({"augment": {"scale_reference": "native"}, "eval_input_size": 96}, 96),
        ({}, 64),  # fitted images: validation at the training side, as before
    ],
)
def test_native_crops_validate_and_predict_on_whole_frames(
    tmp_path: Path, synth_video, pickled_poses, fields: dict, eval_size: int
) -> None:
    from aegroup.predict import Predictor

    video, _, _ = synth_video
    labels = pickled_poses(video, tmp_path / "clip.poses")
    split = {
        "train": {"ann_file": labels.name, "frames": [0, 10]},
        "val": {"ann_file": labels.name, "frames": [10, None]},
    }
    config = load_train_config(write_config(tmp_path, video.schema, **split, **fields, max_steps=2))
    data = open_data(config, video.schema, DistEnv(), pin_memory=False)
    assert data.eval_input_size == eval_size
    assert data.loader.dataset.dataset.input_size == 64 and data.val.dataset.dataset.input_size == eval_size
    result = train(config)
    assert "AP" in result.metrics
    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.input_size == eval_size and checkpoint.model_config.input_size == 64
    assert Predictor.from_checkpoint(result.checkpoint, device="cpu").input_size == eval_size
    saved = yaml.safe_load((config.output_dir / "config.yaml").read_text())
    assert saved["eval_input_size"] == eval_size and saved["input_size"] == 64

"""Training and validation data: the splits' labelled frames, and loaders whose every sample is a pure
function of (seed, epoch, index, copy)."""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from aegroup.data.collate import collate
from aegroup.data.dataset import PoseDataset
from aegroup.data.sources import CocoFrames, LabelledFrames, PoseSetFrames
from aegroup.errors import AegroupError
from aegroup.io import formats
from aegroup.io.coco import load_coco
from aegroup.io.frames import find_image_dir
from aegroup.schema import PoseSchema
from aegroup.training.config import SplitConfig, TrainConfig
from aegroup.training.distributed import DistEnv, ResumableSampler, shard_indices, source_draws


@contextmanager
def seeded_rngs(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global RNGs inside the block and restore them afterwards."""
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


def sample_seed(seed: int, epoch: int, index: int, copy: int = 0) -> int:
    """A 32-bit seed mixed from (seed, epoch, index, copy) so neighbouring samples get unrelated streams."""
    # The first draw of an image keeps the stream it had before sources could be weighted.
    entropy = [seed & 0xFFFFFFFF, epoch, index] + ([copy] if copy else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


class SeededSamples(Dataset):
    """Item `(epoch, index, copy)` is `dataset[index]` drawn with RNGs seeded from (seed, epoch, index, copy).

    Augmentation then no longer depends on which worker loads a sample or on what it loaded before, so a run
    resumed in the middle of an epoch sees exactly the samples an uninterrupted run would have seen; the
    copies of an image that a weight above 1 draws in one epoch are augmented differently.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int, int]) -> Any:
        epoch, index, copy = key
        with seeded_rngs(sample_seed(self.seed, epoch, index, copy)):
            return self.dataset[index]


def open_frames(split: SplitConfig, schema: PoseSchema, config: TrainConfig, where: str) -> LabelledFrames:
    """The labelled frames of one split: a COCO file's images, or the frames of any other pose file.

    `where` names the split in errors ('train', 'train[1]', 'val'), which also name the config file; a split
    without labelled frames is one.
    """
    frames = _read_frames(split, schema, config, where)
    if len(frames) == 0:
        raise AegroupError(
            f"{config.source}: field '{where}.ann_file': {split.ann_file} holds no labelled frames"
        )
    return frames


def _read_frames(split: SplitConfig, schema: PoseSchema, config: TrainConfig, where: str) -> LabelledFrames:
    path, field = split.ann_file, f"{config.source}: field '{where}"
    if formats.detect_format(path) == "coco":
        for name in ("frames", "video"):
            if getattr(split, name) is not None:
                raise AegroupError(f"{field}.{name}': {path} is a COCO file of images, not of video frames")
        coco = load_coco(path, schema, split.categories)
        names = [coco.image_info(i)["file_name"] for i in coco.image_ids[:3]]
        return CocoFrames(coco, split.image_dir or find_image_dir(path.parent, names))
    if split.categories is not None:
        raise AegroupError(f"{field}.categories': only COCO files have categories; {path} is not one")
    poses = formats.load_poses(path, schema=schema, video=split.video)
    if poses.schema.joints != schema.joints:
        raise AegroupError(
            f"{field}.ann_file': {path} has joints {poses.schema.joints}, the run's schema '{schema.name}' "
            f"has {schema.joints}"
        )
    frames = PoseSetFrames(replace(poses, schema=schema), path, split.image_dir)
    if split.frames is not None:
        try:
            frames.restrict(*split.frames)
        except AegroupError as err:
            raise AegroupError(f"{field}.frames': {err}") from None
    return frames


def cache_video_frames(sources: Sequence[LabelledFrames], mode: str, processes: int) -> str | None:
    """Preload the video frames of the sources as `frame_cache` says; a line saying what was done, if any.

    'auto' preloads when the frames take at most a quarter of the RAM shared by `processes` processes.
    """
    videos = [s for s in sources if isinstance(s, PoseSetFrames) and s.decoded_bytes]
    need = sum(s.decoded_bytes for s in videos)
    if mode == "none" or not need:
        return None
    budget = memory_bytes() // (4 * processes)
    if mode == "auto" and need > budget:
        return (
            f"video frames are decoded when drawn: caching them would take up to {need / 2**30:.1f} GiB, "
            f"more than a quarter of the memory ({budget / 2**30:.1f} GiB per process); "
            "set frame_cache: memory to cache anyway"
        )
    start = time.perf_counter()
    for source in videos:
        source.preload()
    held = sum(s.videos.cached_bytes for s in videos)
    count = sum(s.videos.cached_frames for s in videos)
    seconds = time.perf_counter() - start
    return f"decoded {count} video frames into memory ({held / 2**30:.2f} GiB) in {seconds:.1f} s"


def memory_bytes() -> int:
    """Physical memory of the machine (0 when the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


def as_dataset(
    frames: LabelledFrames, config: TrainConfig, train: bool, eval_size: int | None = None
) -> PoseDataset:
    """The dataset over some frames with the run's targets; training items at the run's input size with
    augmentation, evaluation items at `eval_size` (default: the input size)."""
    model_input = config.resolve_model(frames.schema.num_joints).input_size
    return PoseDataset(
        frames,
        train=train,
        input_size=model_input if train else eval_size or model_input,
        max_instances=config.max_instances,
        sigma=config.sigma,
        augment=config.augment if train else None,
    )


def eval_input_size(config: TrainConfig, sources: Sequence[LabelledFrames]) -> int:
    """Input side for validation and prediction: `eval_input_size` when set; for a run on native-scale crops
    the longest side of the sources' frames rounded up to a size every hourglass level divides; else the
    training input size."""
    model_config = config.resolve_model(sources[0].schema.num_joints)
    if config.eval_input_size is not None:
        return config.eval_input_size
    if config.augment.scale_reference != "native":
        return model_config.input_size
    longest = max(max(s.frame_size(i)) for s in sources for i in range(len(s)))
    multiple = model_config.output_stride * 2**model_config.depth
    return -(-longest // multiple) * multiple


def open_split(split: SplitConfig, schema: PoseSchema, config: TrainConfig, train: bool) -> PoseDataset:
    """The dataset of one split (named 'train' or 'val' in errors), without caching video frames."""
    return as_dataset(open_frames(split, schema, config, "train" if train else "val"), config, train)


def open_training_sources(config: TrainConfig, schema: PoseSchema) -> list[LabelledFrames]:
    """The labelled frames of every training source; an empty source is a one-line error naming it."""
    sources = []
    for i, split in enumerate(config.train_splits):
        where = config.train_field(i)
        frames = open_frames(split, schema, config, where)
        if source_draws(len(frames), split.weight) == 0:
            raise AegroupError(
                f"{config.source}: field '{where}.weight': {split.weight} x {len(frames)} frames draws no "
                "sample per epoch"
            )
        sources.append(frames)
    return sources


@dataclass
class TrainingData:
    """The run's loaders: training (with its resumable sampler) and validation with its ground truth."""

    loader: DataLoader
    sampler: ResumableSampler
    val: DataLoader | None
    val_truth: dict[str, Any] | None
    """The validation frames' labels as a COCO dict."""
    eval_input_size: int
    """Input side of validation and prediction (`eval_input_size` resolved)."""
    notes: list[str]
    """Lines for the run's log (how video frames are read)."""


def open_data(config: TrainConfig, schema: PoseSchema, env: DistEnv, pin_memory: bool) -> TrainingData:
    """Open every training source and the val split, cache video frames as configured, build the loaders."""
    sources = open_training_sources(config, schema)
    val = open_frames(config.val, schema, config, "val") if config.val is not None else None
    opened = [*sources, *([val] if val is not None else [])]
    note = cache_video_frames(opened, config.frame_cache, env.world_size)
    weights = [split.weight for split in config.train_splits]
    loader, sampler = train_loader(training_set(sources, config), weights, config, env, pin_memory)
    size = eval_input_size(config, opened)
    return TrainingData(
        loader=loader,
        sampler=sampler,
        val=None
        if val is None
        else val_loader(as_dataset(val, config, train=False, eval_size=size), config, env, pin_memory),
        val_truth=None if val is None else val.ground_truth(),
        eval_input_size=size,
        notes=[note] if note else [],
    )


def training_set(sources: Sequence[LabelledFrames], config: TrainConfig) -> Dataset:
    """One dataset over all training sources (concatenated in config order)."""
    sets = [as_dataset(frames, config, train=True) for frames in sources]
    return sets[0] if len(sets) == 1 else ConcatDataset(sets)


def _worker_context() -> Any:
    """Fork DataLoader workers where the platform can, so that they share preloaded video frames."""
    # Other start methods (spawn, forkserver: the default from Python 3.14) would pickle a copy to each.
    return multiprocessing.get_context("fork") if sys.platform == "linux" else None


def train_loader(
    dataset: Dataset, weights: Sequence[float], config: TrainConfig, env: DistEnv, pin_memory: bool
) -> tuple[DataLoader, ResumableSampler]:
    """Loader over this rank's shard of the weighted training samples, and its resumable sampler."""
    keyed = SeededSamples(dataset, config.seed)
    sizes = [len(d) for d in dataset.datasets] if isinstance(dataset, ConcatDataset) else [len(dataset)]  # type: ignore[arg-type]
    sampler = ResumableSampler(sizes, weights, env, seed=config.seed, shuffle=True)
    loader = DataLoader(
        keyed,
        sampler=sampler,
        drop_last=False,
        persistent_workers=config.workers > 0,
        **_options(config, pin_memory),
    )
    return loader, sampler


def val_loader(dataset: Dataset, config: TrainConfig, env: DistEnv, pin_memory: bool) -> DataLoader:
    """Loader over this rank's share of the validation images, in order, without padding duplicates."""
    shard = Subset(dataset, shard_indices(len(dataset), env))  # type: ignore[arg-type]
    return DataLoader(shard, shuffle=False, **_options(config, pin_memory))


def _options(config: TrainConfig, pin_memory: bool) -> dict[str, Any]:
    """DataLoader options the training and validation loaders share."""
    return {
        "batch_size": config.batch_size,
        "num_workers": config.workers,
        "collate_fn": collate,
        "pin_memory": pin_memory,
        "multiprocessing_context": _worker_context() if config.workers > 0 else None,
        # A private generator keeps DataLoader start-up from consuming the global torch RNG.
        "generator": torch.Generator().manual_seed(config.seed),
    }

"""Training and validation data loaders whose every sample is a pure function of (seed, epoch, index)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from aegroup.data.collate import collate
from aegroup.data.dataset import CocoPoseDataset
from aegroup.schema import PoseSchema
from aegroup.training.config import SplitConfig, TrainConfig
from aegroup.training.distributed import DistEnv, ResumableSampler, shard_indices


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


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed mixed from (seed, epoch, index) so neighbouring samples get unrelated streams."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, index]).generate_state(1)[0])


class SeededSamples(Dataset):
    """Item `(epoch, index)` is `dataset[index]` drawn with RNGs seeded from (seed, epoch, index).

    Augmentation then no longer depends on which worker loads a sample or on what it loaded before, so a run
    resumed in the middle of an epoch sees exactly the samples an uninterrupted run would have seen.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        with seeded_rngs(sample_seed(self.seed, epoch, index)):
            return self.dataset[index]


def open_split(split: SplitConfig, schema: PoseSchema, config: TrainConfig, train: bool) -> CocoPoseDataset:
    """The dataset of one split with the run's input size, targets and (for training) augmentation."""
    model_input = config.resolve_model(schema.num_joints).input_size
    return CocoPoseDataset(
        split.ann_file,
        split.image_dir,
        schema,
        train=train,
        input_size=model_input,
        max_instances=config.max_instances,
        sigma=config.sigma,
        augment=config.augment if train else None,
        categories=split.categories,
    )


def train_loader(
    dataset: Dataset, config: TrainConfig, env: DistEnv, pin_memory: bool
) -> tuple[DataLoader, ResumableSampler]:
    """Loader over this rank's shard of the training set, and its resumable sampler."""
    keyed = SeededSamples(dataset, config.seed)
    sampler = ResumableSampler(keyed, env, seed=config.seed, shuffle=True)
    loader = DataLoader(
        keyed,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        drop_last=False,
        persistent_workers=config.workers > 0,
        # A private generator keeps DataLoader start-up from consuming the global torch RNG.
        generator=torch.Generator().manual_seed(config.seed),
    )
    return loader, sampler


def val_loader(dataset: Dataset, config: TrainConfig, env: DistEnv, pin_memory: bool) -> DataLoader:
    """Loader over this rank's share of the validation images, in order, without padding duplicates."""
    shard = Subset(dataset, shard_indices(len(dataset), env))  # type: ignore[arg-type]
    return DataLoader(
        shard,
        batch_size=config.batch_size,
        shuffle=False,
        num_workers=config.workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(config.seed),
    )

"""Multi-process training under torchrun: environment, process group, DDP, sharded data, gathering."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from aegroup.errors import AegroupError
from aegroup.training.checkpoint import pick_device


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job: global rank, rank on its node, number of processes."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only process that logs and writes files."""
        return self.rank == 0


def detect_env() -> DistEnv:
    """Read RANK / LOCAL_RANK / WORLD_SIZE as set by torchrun (a single process when absent)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise AegroupError("environment: RANK, LOCAL_RANK and WORLD_SIZE must be integers") from None
    return DistEnv(rank=rank, local_rank=local, world_size=world)


def training_device(spec: str, env: DistEnv) -> torch.device:
    """The device of this process: with CUDA under torchrun, GPU `local_rank`; otherwise as `pick_device`."""
    device = pick_device(spec)
    if device.type == "cuda" and env.distributed and (spec in ("auto", "cuda")):
        return torch.device("cuda", env.local_rank)
    return device


def init_distributed(env: DistEnv, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo on CPU. A no-op for a single process."""
    if not env.distributed or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30), **kwargs)


def shutdown_distributed() -> None:
    """Leave the process group if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: torch.nn.Module, env: DistEnv, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around `model` when several processes train; the model itself otherwise."""
    if not env.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def source_draws(size: int, weight: float) -> int:
    """Samples an epoch draws from a source of `size` images with sampling `weight`: round(weight x size)."""
    return math.floor(weight * size + 0.5)


class ResumableSampler(Sampler[tuple[int, int, int]]):
    """A distributed sampler over weighted sources whose order is a pure function of (seed, epoch), resumable
    mid-epoch.

    The dataset concatenates sources of `sizes` images with sampling `weights`. An epoch draws every image of
    a source floor(weight) times, plus one more time for a share weight - floor(weight) of its images
    (chosen afresh each epoch), so source s gives exactly `source_draws(sizes[s], weights[s])` samples. The
    epoch's samples are shuffled, padded and dealt to the ranks like `DistributedSampler` (with one source
    of weight 1 the order is exactly its order). Yields `(epoch, index, copy)` keys, `copy` numbering the
    draws of one image within the epoch, skipping the first `start` (the samples an interrupted run had
    already consumed), so a resumed run sees exactly the data an uninterrupted one would. The epoch and copy
    travel with the key so that workers can seed per sample.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[float],
        env: DistEnv,
        seed: int,
        shuffle: bool = True,
    ) -> None:
        self.sizes, self.weights = list(sizes), list(weights)
        self.env, self.seed, self.shuffle = env, seed, shuffle
        self.total = sum(source_draws(n, w) for n, w in zip(self.sizes, self.weights, strict=True))
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Select the epoch (which fixes the order) and how many of its samples to skip."""
        self.epoch, self.start = epoch, start

    def epoch_samples(self, epoch: int) -> list[tuple[int, int]]:
        """Every (index, copy) the epoch draws, over all ranks, in order (before padding and dealing)."""
        samples: list[tuple[int, int]] = []
        offset = 0
        for source, (size, weight) in enumerate(zip(self.sizes, self.weights, strict=True)):
            whole = math.floor(weight)
            samples += [(offset + i, copy) for copy in range(whole) for i in range(size)]
            extra = source_draws(size, weight) - whole * size
            if extra:
                rng = np.random.default_rng([self.seed & 0xFFFFFFFF, epoch, source])
                samples += [(offset + int(i), whole) for i in np.sort(rng.permutation(size)[:extra])]
            offset += size
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + epoch)  # as DistributedSampler seeds its permutation
            samples = [samples[i] for i in torch.randperm(len(samples), generator=generator).tolist()]
        return samples

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        samples = self.epoch_samples(self.epoch)
        padding = self.per_epoch * self.env.world_size - len(samples)
        samples += (samples * math.ceil(padding / len(samples)))[:padding] if padding else []
        mine = samples[self.env.rank :: self.env.world_size][self.start :]
        return iter([(self.epoch, index, copy) for index, copy in mine])

    def __len__(self) -> int:
        return self.per_epoch - self.start

    @property
    def per_epoch(self) -> int:
        """Samples this rank sees in a full epoch."""
        return math.ceil(self.total / self.env.world_size)


def shard_indices(count: int, env: DistEnv) -> list[int]:
    """This rank's share of `count` items in order, without padding (for validation)."""
    return list(range(env.rank, count, env.world_size))


def gather_objects(obj: Any, env: DistEnv) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (`all_gather_object`); `[obj]` for one process."""
    if not env.distributed:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, env: DistEnv) -> Any:
    """Rank 0's `obj` on every rank."""
    if not env.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op for one process)."""
    if env.distributed:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """The mean of a tensor over ranks (for logging losses); the tensor itself for one process."""
    if not env.distributed:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / env.world_size


def on_main(fn: Callable[[], Any], env: DistEnv) -> Any:
    """Run `fn` on rank 0 alone and hand its result, or its one-line user error, to every rank.

    Without this a failure on rank 0 (say, a corrupt checkpoint) would leave the other ranks waiting forever.
    """
    result, error = None, None
    if env.is_main:
        try:
            result = fn()
        except AegroupError as err:
            error = str(err)
    result, error = broadcast_object((result, error), env)
    if error is not None:
        raise AegroupError(error)
    return result


def sync_buffers(model: torch.nn.Module, env: DistEnv) -> None:
    """Copy rank 0's buffers (batch-norm running statistics) to every rank.

    DDP broadcasts buffers at the start of each forward, so after the last training step each rank holds
    statistics updated from its own batch; validation and the final model must use rank 0's.
    """
    if not env.distributed:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)

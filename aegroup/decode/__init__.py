"""Decoding: heatmaps and tag maps -> candidates -> instances (numpy, numba, scipy; torch for tensors)."""

from aegroup.decode.api import (
    decode_batch,
    decode_batch_with_candidates,
    group,
    group_candidates,
    resolve_config,
    to_image,
    to_image_candidates,
    warm_up,
)
from aegroup.decode.candidates import extract_candidates
from aegroup.decode.config import DecodeConfig
from aegroup.decode.groupers import GROUPERS, Grouper, available_groupers, get_grouper
from aegroup.decode.types import Candidates, Instance

__all__ = [
    "GROUPERS",
    "Candidates",
    "DecodeConfig",
    "Grouper",
    "Instance",
    "available_groupers",
    "decode_batch",
    "decode_batch_with_candidates",
    "extract_candidates",
    "get_grouper",
    "group",
    "group_candidates",
    "resolve_config",
    "to_image",
    "to_image_candidates",
    "warm_up",
]

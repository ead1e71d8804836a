"""Grouper registry: the `Grouper` protocol, built-ins by name, and third-party `aegroup.groupers` plugins."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.metadata import EntryPoint
from typing import Protocol, runtime_checkable

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.greedy import greedy_grouper
from aegroup.decode.hungarian import hungarian_grouper
from aegroup.decode.types import Candidates
from aegroup.plugins import entry_point_table, load_plugin

ENTRY_POINT_GROUP = "aegroup.groupers"


@runtime_checkable
class Grouper(Protocol):
    """Turns one image's candidates into instances.

    Called as `grouper(candidates, order, config)`: `candidates` per joint (score <= detection_threshold
    means "not a candidate"), `order` the joint indices in the schema's grouping order. Returns an int
    array (N, K): for every instance and joint the candidate slot (index into `candidates.*[k]`), or -1.
    A slot may appear in at most one instance.
    """

    def __call__(self, candidates: Candidates, order: Sequence[int], config: DecodeConfig) -> np.ndarray:
        """(N, K) candidate slot per instance and joint, -1 where absent."""
        ...


GROUPERS: dict[str, Grouper] = {
    "hungarian": hungarian_grouper,
    "greedy": greedy_grouper,
}
"""Built-in groupers by name; plugins are looked up after these."""


@cache
def plugin_groupers() -> dict[str, EntryPoint]:
    """Entry points of the `aegroup.groupers` group by name (not loaded until used)."""
    return entry_point_table(ENTRY_POINT_GROUP)


def available_groupers() -> list[str]:
    """Names accepted by `get_grouper`: built-ins first, then installed plugins."""
    return list(GROUPERS) + sorted(set(plugin_groupers()) - set(GROUPERS))


def get_grouper(method: str | Grouper) -> Grouper:
    """A grouper by built-in or plugin name, or `method` itself when it is already callable."""
    if callable(method):
        return method
    if method in GROUPERS:
        return GROUPERS[method]
    ep = plugin_groupers().get(method)
    return load_plugin("grouper", method, ep, available_groupers(), callable, "callable")  # type: ignore[return-value]

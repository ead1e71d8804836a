"""Named extensions from other packages: entry points of a group, loaded the first time one is asked for."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from aegroup.errors import AegroupError


def entry_point_table(group: str) -> dict[str, EntryPoint]:
    """The entry points of `group` by name (none loaded)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def load_plugin(
    kind: str,
    name: str,
    ep: EntryPoint | None,
    available: list[str],
    accept: Callable[[object], bool],
    expected: str,
) -> object:
    """Load the plugin `name` of a `kind` ('grouper', ...); an unknown, broken or wrong one (not
    `accept`ed: not `expected`) is a one-line error."""
    if ep is None:
        raise AegroupError(f"method '{name}': unknown {kind} (available: {', '.join(available)})")
    try:
        loaded = ep.load()
    except Exception as err:  # a broken plugin must not end in a traceback
        raise AegroupError(f"method '{name}': cannot load plugin {ep.value} ({err})") from None
    if not accept(loaded):
        raise AegroupError(f"method '{name}': plugin {ep.value} is not {expected}")
    return loaded

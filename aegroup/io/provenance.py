"""Who made each label: instance status and per-joint origin codes, as project files and the labeller store
them (int8 arrays). Version-1 project files stored the lower-case names (`code_by_name`)."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar


class InstanceStatus(IntEnum):
    """An instance's status: predicted by the network, corrected (or accepted) by a person, added by hand."""

    PREDICTED = 0
    CORRECTED = 1
    ADDED = 2


class JointOrigin(IntEnum):
    """Where a joint came from: predicted, filled in by refinement, moved by a person, or placed by hand."""

    PREDICTED = 0
    REFINED = 1
    CORRECTED = 2
    ADDED = 3


Code = TypeVar("Code", InstanceStatus, JointOrigin)


def code_by_name(kind: type[Code]) -> Callable[[object], object]:
    """A pydantic before-validator taking a code's lower-case name ('predicted', ...) to the code."""
    names = {member.name.lower(): member for member in kind}

    def parse(value: object) -> object:
        if not isinstance(value, str) or value not in names:
            raise ValueError(f"{value!r} is not one of {', '.join(names)}")
        return names[value]

    return parse

"""User-facing errors: one line that names the file and the field, turned into exit code 2 by the CLI."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class AegroupError(Exception):
    """An error caused by the user's input; its message is one line naming the file and the field."""


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as `a.b[2].c`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_message(source: str | Path, err: ValidationError) -> str:
    """One line for the first problem in a pydantic ValidationError, prefixed by the source file."""
    first = err.errors()[0]
    msg = str(first["msg"]).removeprefix("Value error, ")
    loc = tuple(first["loc"])
    more = len(err.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    # Model-level validators put the field name into the message themselves.
    where = f"field '{field_path(loc)}': " if loc else ""
    return f"{source}: {where}{msg}{tail}"

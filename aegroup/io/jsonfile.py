"""Reading a JSON file with one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aegroup.errors import AegroupError


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; a missing, unreadable or truncated file is a one-line `AegroupError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise AegroupError(f"{path}: {what} not found")
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise AegroupError(
            f"{path}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno}; truncated?)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{path}: cannot read {what} ({first})") from None

"""Reading a JSON file with one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aegroup.errors import AegroupError


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parse a JSON file; a missing or unreadable file is a one-line `AegroupError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise AegroupError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{path}: not a readable JSON {what} ({first})") from None

"""Optional dependencies (extras): imported on first use, with a one-line install hint when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from aegroup.errors import AegroupError

EXTRAS = {
    "sleap_io": "formats",
    "av": "formats",
    "h5py": "formats",
    "pandas": "formats",
    "tables": "formats",
    "onnx": "deploy",
    "onnxruntime": "deploy",
    "onnxscript": "deploy",
}
"""Module -> the aegroup extra that installs it."""


def require(module: str, needed_for: str) -> ModuleType:
    """Import `module`, or raise a one-line `AegroupError` saying which extra to install for what."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        extra = EXTRAS.get(module)
        hint = f"pip install 'aegroup[{extra}]'" if extra else f"pip install {module}"
        raise AegroupError(f"{needed_for} needs {module.split('.')[0]}: {hint} ({err})") from None

"""Deployment: export a checkpoint to ONNX (`export`, needs torch) and run it without torch (`runtime`).

Importing this package loads neither torch nor onnxruntime; `export_onnx` is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aegroup.deploy.metadata import FORMAT, OnnxMetadata, read_metadata
from aegroup.deploy.runtime import OnnxModel

if TYPE_CHECKING:
    from aegroup.deploy.export import export_onnx

__all__ = ["FORMAT", "OnnxMetadata", "OnnxModel", "export_onnx", "read_metadata"]


def __getattr__(name: str) -> Any:
    """Load the torch-based `export_onnx` on first access."""
    if name == "export_onnx":
        from aegroup.deploy.export import export_onnx

        return export_onnx
    raise AttributeError(f"module 'aegroup.deploy' has no attribute {name!r}")

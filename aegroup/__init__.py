"""aegroup: associative-embedding bottom-up pose estimation for any skeleton."""

from typing import Any

from aegroup.decode import DecodeConfig, Instance, group, group_candidates
from aegroup.errors import AegroupError
from aegroup.eval import evaluate
from aegroup.schema import PoseSchema, builtin_schemas, load_schema

__all__ = [
    "AegroupError",
    "DecodeConfig",
    "Instance",
    "PoseSchema",
    "Predictor",
    "builtin_schemas",
    "evaluate",
    "group",
    "group_candidates",
    "load_schema",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # `Predictor` needs torch; importing it lazily keeps `import aegroup` torch-free (the GUI relies on it).
    if name == "Predictor":
        from aegroup.predict import Predictor

        return Predictor
    raise AttributeError(f"module 'aegroup' has no attribute {name!r}")

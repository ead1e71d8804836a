"""aegroup: associative-embedding bottom-up pose estimation for any skeleton."""

from aegroup.errors import AegroupError
from aegroup.schema import PoseSchema, builtin_schemas, load_schema

__all__ = ["AegroupError", "PoseSchema", "builtin_schemas", "load_schema"]
__version__ = "0.1.0"

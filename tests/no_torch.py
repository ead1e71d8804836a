"""Python code run in a subprocess where every import of torch fails, as on a machine without it."""

from __future__ import annotations

import subprocess
import sys

BLOCKER = """
import sys


class NoTorch:
    '''A meta-path finder that makes every import of torch fail, as on a machine without it.'''

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is blocked in this process")
        return None


sys.meta_path.insert(0, NoTorch())
try:
    import torch  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("the torch blocker did not work")
"""
"""Source that, run first, blocks torch for the rest of the process."""

TORCH_NOT_LOADED = """
assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
"""
"""Source that fails when any torch module was loaded."""


def run_without_torch(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `code` (with `sys.argv[1:]` = `args`) in a fresh Python where torch cannot be imported."""
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code + TORCH_NOT_LOADED, *args], capture_output=True, text=True
    )

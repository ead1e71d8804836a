"""The `aegroup` facade: every public name resolves to its one definition, and importing stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import aegroup
from aegroup.lazy import lazy_exports

LIGHT = ["AegroupError", "PoseSchema", "builtin_schemas", "load_schema", "DecodeConfig", "Instance"]
LIGHT += ["group", "group_candidates", "evaluate"]
"""Facade names that load neither torch nor scipy.optimize nor pycocotools (the labeller's re-grouping)."""
FILES = ["export_file", "PoseSet", "load_poses", "save_poses"]
"""Facade names for files: pycocotools, but no torch (nor does `Predictor`, until it loads a checkpoint)."""
GUI = ("PySide6", "pyqtgraph", "aegroup_gui")


@pytest.mark.parametrize("name", aegroup.__all__)
def test_each_name_is_its_modules_object(name: str) -> None:
    value = getattr(aegroup, name)
    home = importlib.import_module(value.__module__)
    assert getattr(home, name) is value
    assert value.__doc__, f"{name} has no docstring"


def test_the_steps_of_a_script_are_all_there() -> None:
    steps = {
        "load_schema",
        "PoseSchema",
        "CocoPoseDataset",
        "PoseDataset",
        "train",
        "Predictor",
        "group",
        "evaluate",
    }
    assert steps | {"export_file", "load_poses", "save_poses"} <= set(aegroup.__all__)
    assert dir(aegroup) == aegroup.__all__ == sorted(aegroup.__all__)
    assert set(LIGHT + FILES) <= set(aegroup.__all__)


def test_train_is_the_function_even_after_the_training_package_loads() -> None:
    import aegroup.training.loop

    assert aegroup.train is aegroup.training.loop.train and callable(aegroup.train)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aegroup.nope  # noqa: B018
    getter, _ = lazy_exports("pkg", {"x": "aegroup.errors"})
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'y'"):
        getter("y")


def test_import_aegroup_and_its_torch_free_names_load_no_torch_and_no_gui() -> None:
    code = (
        "import sys, aegroup, aegroup.decode, aegroup.eval, aegroup.io.results\n"
        f"for name in {LIGHT!r}:\n"
        "    getattr(aegroup, name)\n"
        f"bad = [m for m in ('torch', 'scipy.optimize', 'pycocotools', *{GUI!r}) if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import aegroup.predict.files, aegroup.predict.video\n"
        f"for name in {FILES!r}:\n"
        "    getattr(aegroup, name)\n"
        "aegroup.Predictor  # torch only once a checkpoint is loaded\n"
        f"bad = [m for m in ('torch', *{GUI!r}) if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bare_import_loads_nothing_but_the_facade() -> None:
    code = "import sys, aegroup\nprint(sorted(m for m in sys.modules if m.startswith('aegroup')))\n"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "['aegroup', 'aegroup.lazy']"

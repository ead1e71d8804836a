"""The training config reference (field, default, meaning) generated from the pydantic models."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from aegroup.model.config import PRESETS, ModelConfig
from aegroup.training.config import ModelSection, TrainConfig


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value: Any = info.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        value = list(value)
    return str(value)


def _section(annotation: Any) -> type[BaseModel] | None:
    """The nested config model a field holds (also through `X | None`, `list[X]` and `Annotated`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _section(arg)
        if found is not None:
            return found
    return None


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows, nested = [], []
    for name, info in model.model_fields.items():
        key = info.alias or name
        description = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{key}` | `{_default(info)}` | {description} |")
        section = _section(info.annotation)
        if section is not None:
            nested.append((section, f"{prefix}{key}."))
    for section, sub in nested:
        rows.extend(_rows(section, sub))
        if section is ModelSection:
            rows.extend(_model_rows(sub))
    return rows


def _model_rows(prefix: str) -> list[str]:
    """`ModelConfig` fields that `model:` may override; their defaults come from the chosen preset."""
    rows = []
    for name, info in ModelConfig.model_fields.items():
        if name in ("num_joints", "input_size"):  # from the schema / the top-level input_size
            continue
        presets = ", ".join(f"{p} {values[name]}" for p, values in PRESETS.items() if name in values)
        default = f"preset ({presets})" if presets else f"`{_default(info)}`"
        rows.append(f"| `{prefix}{name}` | {default} | {info.description} |")
    return rows


def config_reference() -> str:
    """Markdown table of every `TrainConfig` field (nested sections as `a.b`), its default and meaning."""
    lines = ["| field | default | meaning |", "| --- | --- | --- |", *_rows(TrainConfig, "")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(config_reference(), end="")

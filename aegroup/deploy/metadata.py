"""What an exported ONNX file carries besides the network: every setting predicting needs, as metadata.

Each setting is one `metadata_props` entry `aegroup.<name>` whose value is JSON text (see docs/deploy.md),
so any ONNX consumer, in any language, can read it. Torch-free: the runtime side reads it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from aegroup.decode.config import DecodeConfig
from aegroup.errors import AegroupError, validation_message
from aegroup.schema import PoseSchema

DEFAULT_OPSET = 20
"""What torch 2.13's exporter writes natively (no version conversion); ONNX Runtime runs it since 1.17."""
MIN_OPSET = 16
"""Older opsets fail in torch's exporter (its version converter has no Identity adapter below 16)."""
FORMAT = "aegroup-onnx"
VERSION = 1
PREFIX = "aegroup."
INPUT = "image"
"""Graph input: (B, 3, H, W) float32 RGB, scaled to 0..1 then standardised by `mean` and `std`."""
OUTPUTS = ("heatmaps", "tags")
"""Graph outputs: the last stack's (B, K, H/4, W/4) heatmaps and (B, K, D, H/4, W/4) tags."""


@dataclass(frozen=True)
class OnnxMetadata:
    """The settings an exported model is predicted with (one `aegroup.<field>` metadata entry each)."""

    schema: PoseSchema
    model_config: dict[str, Any]
    """The network's `ModelConfig` fields (kept as JSON: reading them must not import the torch model)."""
    decode_config: DecodeConfig
    input_size: int
    """Square input side predicting resizes to: the training size, or the fixed size of the graph."""
    fixed_size: tuple[int, int] | None
    """(width, height) the graph is fixed to; None when the image size is dynamic (the batch always is)."""
    output_stride: int
    """Input pixels per heatmap pixel."""
    size_multiple: int
    """Input sides the hourglass maps without cropping: output stride x 2^depth."""
    tag_dim: int
    nstack: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    aegroup_version: str
    checkpoint: dict[str, Any] = field(default_factory=dict)
    """Where the weights came from: epoch, step and validation metrics of the checkpoint."""

    def to_props(self) -> dict[str, str]:
        """The `metadata_props` entries: `aegroup.<name>` -> JSON text."""
        values: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "aegroup_version": self.aegroup_version,
            "schema": self.schema.model_dump(mode="json"),
            "model_config": self.model_config,
            "decode_config": self.decode_config.model_dump(mode="json"),
            "input_size": self.input_size,
            "fixed_size": list(self.fixed_size) if self.fixed_size else None,
            "output_stride": self.output_stride,
            "size_multiple": self.size_multiple,
            "mean": list(self.mean),
            "std": list(self.std),
            "num_joints": self.schema.num_joints,
            "tag_dim": self.tag_dim,
            "nstack": self.nstack,
            "checkpoint": self.checkpoint,
        }
        return {PREFIX + name: json.dumps(value) for name, value in values.items()}


REQUIRED = (
    "format",
    "version",
    "aegroup_version",
    "schema",
    "model_config",
    "decode_config",
    "input_size",
    "fixed_size",
    "output_stride",
    "size_multiple",
    "mean",
    "std",
    "num_joints",
    "tag_dim",
    "nstack",
)
"""Entries every exported file has (`checkpoint` is informative and optional)."""


def read_metadata(props: Mapping[str, str], source: str) -> OnnxMetadata:
    """Parse and check the `aegroup.*` metadata of an ONNX file; one-line errors name `source` and the key."""
    if PREFIX + "format" not in props:
        raise AegroupError(
            f"{source}: no aegroup metadata (metadata_props has no '{PREFIX}format'); "
            "export the model with `aegroup export-model`"
        )
    missing = [PREFIX + name for name in REQUIRED if PREFIX + name not in props]
    if missing:
        raise AegroupError(f"{source}: aegroup metadata lacks {', '.join(repr(m) for m in missing)}")
    raw = {name: _json(props, name, source) for name in (*REQUIRED, "checkpoint") if PREFIX + name in props}
    if raw["format"] != FORMAT:
        raise AegroupError(f"{source}: metadata '{PREFIX}format' is {raw['format']!r}, not '{FORMAT}'")
    if raw["version"] != VERSION:
        raise AegroupError(
            f"{source}: metadata '{PREFIX}version' is {raw['version']!r}, this aegroup reads {VERSION}"
        )
    meta = OnnxMetadata(
        schema=_model(PoseSchema, raw, "schema", source),
        model_config=_typed(raw, "model_config", source, _mapping),
        decode_config=_model(DecodeConfig, raw, "decode_config", source),
        input_size=_typed(raw, "input_size", source, _positive_int),
        fixed_size=_typed(raw, "fixed_size", source, _size_or_none),
        output_stride=_typed(raw, "output_stride", source, _positive_int),
        size_multiple=_typed(raw, "size_multiple", source, _positive_int),
        tag_dim=_typed(raw, "tag_dim", source, _positive_int),
        nstack=_typed(raw, "nstack", source, _positive_int),
        mean=_typed(raw, "mean", source, _three_floats),
        std=_typed(raw, "std", source, _three_floats),
        aegroup_version=str(raw["aegroup_version"]),
        checkpoint=raw.get("checkpoint") if isinstance(raw.get("checkpoint"), dict) else {},
    )
    _check_consistent(meta, raw, source)
    return meta


def _json(props: Mapping[str, str], name: str, source: str) -> Any:
    """The JSON value of one entry."""
    try:
        return json.loads(props[PREFIX + name])
    except json.JSONDecodeError as err:
        raise AegroupError(f"{source}: metadata '{PREFIX}{name}' is not JSON ({err.msg})") from None


def _model(cls: type[BaseModel], raw: dict[str, Any], name: str, source: str) -> Any:
    """One entry validated as a pydantic model."""
    try:
        return cls.model_validate(raw[name])
    except ValidationError as err:
        raise AegroupError(validation_message(f"{source}: metadata '{PREFIX}{name}'", err)) from None


def _typed(raw: dict[str, Any], name: str, source: str, convert: Callable[[Any], Any]) -> Any:
    """One entry through `convert`, whose ValueError becomes a one-line error naming the key."""
    try:
        return convert(raw[name])
    except (TypeError, ValueError) as err:
        raise AegroupError(f"{source}: metadata '{PREFIX}{name}': {err}") from None


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _size_or_none(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"expected null or [width, height], got {value!r}")
    width, height = (_positive_int(v) for v in value)
    return width, height


def _three_floats(value: Any) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3 or not all(isinstance(v, (int, float)) for v in value):
        raise ValueError(f"expected three numbers (R, G, B), got {value!r}")
    r, g, b = (float(v) for v in value)
    return r, g, b


def _check_consistent(meta: OnnxMetadata, raw: dict[str, Any], source: str) -> None:
    """The flat entries (what a reader in any language uses) agree with the schema and the model config."""
    if raw["num_joints"] != meta.schema.num_joints:
        raise AegroupError(
            f"{source}: metadata '{PREFIX}num_joints' is {raw['num_joints']!r} but the schema has "
            f"{meta.schema.num_joints} joints"
        )
    for name in ("num_joints", "tag_dim", "nstack"):
        stored = meta.model_config.get(name)
        if stored != raw[name]:
            raise AegroupError(
                f"{source}: metadata '{PREFIX}{name}' is {raw[name]!r} "
                f"but '{PREFIX}model_config' says {stored!r}"
            )

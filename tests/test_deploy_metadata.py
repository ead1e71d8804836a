"""ONNX metadata: entries round-trip as JSON text; missing, malformed or inconsistent ones are named."""

from __future__ import annotations

import json

import pytest

from aegroup.decode import DecodeConfig
from aegroup.deploy.metadata import PREFIX, REQUIRED, OnnxMetadata, read_metadata
from aegroup.errors import AegroupError
from aegroup.schema import load_schema

SCHEMA = load_schema("coco17")


def metadata(**changes) -> OnnxMetadata:
    """A plausible export's metadata, with fields replaced."""
    fields = {
        "schema": SCHEMA,
        "model_config": {"num_joints": 17, "tag_dim": 1, "nstack": 2, "depth": 3, "input_size": 128},
        "decode_config": DecodeConfig(detection_threshold=0.2),
        "input_size": 128,
        "fixed_size": None,
        "output_stride": 4,
        "size_multiple": 32,
        "tag_dim": 1,
        "nstack": 2,
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "aegroup_version": "0.1.0",
        "checkpoint": {"epoch": 2, "step": 10, "metrics": {"AP": 0.5}},
    }
    return OnnxMetadata(**{**fields, **changes})


def test_round_trip_through_json_text() -> None:
    for meta in (metadata(), metadata(fixed_size=(256, 256), input_size=256)):
        props = meta.to_props()
        assert all(key.startswith(PREFIX) and isinstance(value, str) for key, value in props.items())
        assert json.loads(props["aegroup.mean"]) == [0.485, 0.456, 0.406]
        assert json.loads(props["aegroup.num_joints"]) == 17
        assert read_metadata(props, "m.onnx") == meta


def test_the_checkpoint_entry_is_optional() -> None:
    props = metadata().to_props()
    del props["aegroup.checkpoint"]
    assert read_metadata(props, "m.onnx").checkpoint == {}
    assert set(REQUIRED) | {"checkpoint"} == {k.removeprefix(PREFIX) for k in metadata().to_props()}


def changed(key: str, value: str | None) -> dict[str, str]:
    """The metadata's entries with one replaced by raw text (or removed when `value` is None)."""
    props = metadata().to_props()
    if value is None:
        del props[PREFIX + key]
    else:
        props[PREFIX + key] = value
    return props


@pytest.mark.parametrize(
    ("props", "needle"),
    [
        ({"producer": "x"}, "m.onnx: no aegroup metadata (metadata_props has no 'aegroup.format')"),
        (changed("decode_config", None), "m.onnx: aegroup metadata lacks 'aegroup.decode_config'"),
        (changed("format", '"other"'), "'aegroup.format' is 'other', not 'aegroup-onnx'"),
        (changed("version", "2"), "'aegroup.version' is 2, this aegroup reads 1"),
        (changed("schema", "{not json"), "metadata 'aegroup.schema' is not JSON"),
        (changed("schema", '{"name": "x", "joints": []}'), "metadata 'aegroup.schema': field 'joints'"),
        (
            changed("decode_config", '{"nms_kernel": 4}'),
            "'aegroup.decode_config': field 'nms_kernel': must be odd",
        ),
        (changed("input_size", "0"), "'aegroup.input_size': expected a positive integer, got 0"),
        (changed("fixed_size", "[256]"), "'aegroup.fixed_size': expected null or [width, height]"),
        (changed("mean", '[0.5, "a", 0.5]'), "'aegroup.mean': expected three numbers"),
        (changed("model_config", "[]"), "'aegroup.model_config': expected a JSON object, got list"),
        (changed("num_joints", "16"), "'aegroup.num_joints' is 16 but the schema has 17 joints"),
        (changed("tag_dim", "2"), "'aegroup.tag_dim' is 2 but 'aegroup.model_config' says 1"),
    ],
)
def test_bad_metadata_is_a_one_line_error_naming_the_entry(props: dict[str, str], needle: str) -> None:
    with pytest.raises(AegroupError) as err:
        read_metadata(props, "m.onnx")
    assert needle in str(err.value) and "\n" not in str(err.value)

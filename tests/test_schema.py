"""Schema loading, validation messages, round trips and COCO categories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from aegroup import AegroupError, PoseSchema, builtin_schemas, load_schema
from aegroup.cli import app
from aegroup.schema import DEFAULT_SIGMA, infer_flip_pairs

BASE = {"name": "bot", "joints": ["base", "l_arm", "r_arm", "head"], "edges": [["base", "head"]]}


def write(tmp_path: Path, data: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", ["coco17", "crowdpose14", "mpii16", "ap10k17", "hand21"])
def test_builtins_load(name: str) -> None:
    schema = load_schema(name)
    assert name in builtin_schemas()
    assert len(schema.oks_sigmas) == schema.num_joints
    flip = schema.flip_index
    assert sorted(flip) == list(range(schema.num_joints))
    assert all(flip[flip[i]] == i for i in range(schema.num_joints))
    assert sorted(schema.group_index) == list(range(schema.num_joints))


def test_coco17_derived() -> None:
    schema = load_schema("coco17")
    assert schema.flip_index[:3] == [0, 2, 1]
    assert schema.group_index[:9] == [0, 1, 2, 3, 4, 5, 6, 11, 12]
    assert schema.edge_index[0] == (15, 13)


def test_defaults_and_yaml_round_trip(tmp_path: Path) -> None:
    schema = load_schema(write(tmp_path, BASE))
    assert schema.oks_sigmas == [DEFAULT_SIGMA] * 4
    assert schema.group_index == [0, 1, 2, 3]
    again = load_schema(write(tmp_path, yaml.safe_load(schema.to_yaml()), "again.yaml"))
    assert again == schema
    for name in builtin_schemas():
        built = load_schema(name)
        assert load_schema(write(tmp_path, yaml.safe_load(built.to_yaml()), f"{name}.yaml")) == built


def test_json_schema_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(BASE))
    assert load_schema(path).num_joints == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"joints": ["a", "b", "a"]}, "field 'joints': duplicate joint name 'a'"),
        ({"edges": [["base", "tail"]]}, "field 'edges[0]': unknown joint 'tail'"),
        ({"flip_pairs": [["l_arm", "leg"]]}, "field 'flip_pairs[0]': unknown joint 'leg'"),
        (
            {"flip_pairs": [["l_arm", "r_arm"], ["r_arm", "head"]]},
            "field 'flip_pairs[1]': joint 'r_arm' is already in flip_pairs[0]",
        ),
        ({"group_order": ["base", "head"]}, "field 'group_order': must list every joint once"),
        ({"sigmas": [0.1, 0.1]}, "field 'sigmas': 2 values for 4 joints"),
        ({"sigmas": [0.1, 0.1, 0.0, 0.1]}, "field 'sigmas': every sigma must be positive"),
        ({"extra_field": 1}, "field 'extra_field'"),
    ],
)
def test_validation_errors_name_file_and_field(tmp_path: Path, change: dict, expected: str) -> None:
    path = write(tmp_path, {**BASE, **change})
    with pytest.raises(AegroupError) as info:
        load_schema(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_unknown_builtin_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(AegroupError, match=r"unknown schema 'zebra'.*coco17"):
        load_schema("zebra")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(AegroupError, match="not valid YAML"):
        load_schema(bad)
    with pytest.raises(AegroupError, match="schema file not found"):
        load_schema(tmp_path / "missing.yaml")


def test_from_coco_category_on_real_coco(real_set: tuple[Path, Path, str]) -> None:
    ann, _, schema_name = real_set
    category = json.loads(ann.read_text())["categories"][0]
    builtin = load_schema(schema_name)
    if schema_name == "crowdpose14":
        # CrowdPose's published category carries COCO's 17-joint skeleton: a clear error, not a crash.
        with pytest.raises(AegroupError, match=r"skeleton\[\d+\]"):
            PoseSchema.from_coco_category(category)
        return
    schema = PoseSchema.from_coco_category(category)
    assert schema.joints == builtin.joints
    assert sorted(map(sorted, schema.edges)) == sorted(map(sorted, builtin.edges))
    assert schema.flip_index == builtin.flip_index
    assert PoseSchema.from_coco_category(schema.to_coco_category()).edges == schema.edges


def test_infer_flip_pairs_prefixes() -> None:
    assert infer_flip_pairs(["l_eye", "r_eye", "Left_paw", "Right_paw", "leftfin", "rightfin", "tail"]) == [
        ("l_eye", "r_eye"),
        ("Left_paw", "Right_paw"),
        ("leftfin", "rightfin"),
    ]


def test_infer_flip_pairs_suffixes() -> None:
    fly = [
        "head",
        "thorax",
        "wingL",
        "wingR",
        "forelegL4",
        "forelegR4",
        "hindlegL4",
        "hindlegR4",
        "eyeL",
        "eyeR",
    ]
    assert infer_flip_pairs(fly) == [
        ("wingL", "wingR"),
        ("forelegL4", "forelegR4"),
        ("hindlegL4", "hindlegR4"),
        ("eyeL", "eyeR"),
    ]
    names = [
        "ear_left",
        "ear_right",
        "paw_l2",
        "paw_r2",
        "fin-R",
        "fin-L",
        "toe.l",
        "toe.r",
        "earLeft",
        "earRight",
    ]
    assert infer_flip_pairs(names) == [
        ("ear_left", "ear_right"),
        ("paw_l2", "paw_r2"),
        ("fin-R", "fin-L"),
        ("toe.l", "toe.r"),
        ("earLeft", "earRight"),
    ]
    # Lower-case l/r only count after a separator; a side letter needs its partner; a name is paired once.
    assert infer_flip_pairs(["tail", "tair", "wingL", "wingX", "pawL", "pawR", "L_paw"]) == [("pawL", "pawR")]
    assert infer_flip_pairs(["hindlegL4", "hindlegR5"]) == []


def test_cli_schema_show_check(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["schema", "show", "hand21"])
    assert result.exit_code == 0 and "thumb1" in result.output
    good = write(tmp_path, BASE)
    assert runner.invoke(app, ["schema", "check", str(good)]).exit_code == 0
    for verb in (["schema", "--help"], ["schema", "show", "--help"], ["schema", "check", "--help"]):
        assert runner.invoke(app, verb).exit_code == 0


def test_cli_bad_schema_one_line_exit_2(tmp_path: Path, cli) -> None:
    bad = write(tmp_path, {**BASE, "edges": [["base", "tail"]]})
    result = cli("schema", "check", bad)
    assert result.code == 2
    assert result.err.strip() == f"error: {bad}: field 'edges[0]': unknown joint 'tail'"
    assert "Traceback" not in result.err

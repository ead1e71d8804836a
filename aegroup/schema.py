"""Typed pose schemas: joints, skeleton edges, flip pairs, grouping order and OKS sigmas."""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aegroup.errors import AegroupError, validation_message

DEFAULT_SIGMA = 0.07
"""OKS sigma used for every joint when a schema gives none (about the mean of COCO's 17 sigmas)."""

_LEFT_RIGHT = (("left_", "right_"), ("l_", "r_"), ("left", "right"), ("L", "R"))
# A side word at the end of a name, optionally followed by a number: wingL, hindlegR4, ear_left, paw-r2.
# Lower-case l/r count only after a separator (so that "tail" never pairs with "tair").
_SUFFIX_SIDE = re.compile(
    r"^(.+?)([_\-. ](?:left|right|l|r|L|R|Left|Right|LEFT|RIGHT)|Left|Right|L|R|left|right)([_\-]?\d*)$"
)
_OTHER_SIDE = {"left": "right", "l": "r", "L": "R", "Left": "Right", "LEFT": "RIGHT"}
_OTHER_SIDE.update({b: a for a, b in _OTHER_SIDE.items()})


class PoseSchema(BaseModel):
    """A skeleton: ordered joint names, edges to draw, left/right flip pairs, grouping order, OKS sigmas."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Skeleton name; also the COCO category name on export.")
    joints: list[str] = Field(min_length=1, description="Joint names in channel order.")
    edges: list[tuple[str, str]] = Field(default_factory=list, description="Joint pairs drawn as limbs.")
    flip_pairs: list[tuple[str, str]] = Field(
        default_factory=list, description="Joint pairs that swap under a horizontal flip."
    )
    group_order: list[str] | None = Field(
        default=None, description="Order in which grouping visits joints; defaults to `joints`."
    )
    sigmas: list[float] | None = Field(
        default=None, description=f"Per-joint OKS sigmas; {DEFAULT_SIGMA} for every joint when absent."
    )
    colors: list[str] | None = Field(default=None, description="Optional per-joint colours ('#rrggbb').")
    description: str = ""

    @field_validator("joints")
    @classmethod
    def _unique_joints(cls, joints: list[str]) -> list[str]:
        seen: set[str] = set()
        for j in joints:
            if not j.strip():
                raise ValueError("joint names must not be empty")
            if j in seen:
                raise ValueError(f"duplicate joint name '{j}'")
            seen.add(j)
        return joints

    @model_validator(mode="after")
    def _check_references(self) -> PoseSchema:
        known = set(self.joints)
        for field in ("edges", "flip_pairs"):
            for i, (a, b) in enumerate(getattr(self, field)):
                for j in (a, b):
                    if j not in known:
                        raise ValueError(f"field '{field}[{i}]': unknown joint '{j}'")
                if a == b:
                    raise ValueError(f"field '{field}[{i}]': joint '{a}' is paired with itself")
        paired: dict[str, int] = {}
        for i, pair in enumerate(self.flip_pairs):
            for j in pair:
                if j in paired:
                    raise ValueError(
                        f"field 'flip_pairs[{i}]': joint '{j}' is already in flip_pairs[{paired[j]}]"
                    )
                paired[j] = i
        if self.group_order is not None and sorted(self.group_order) != sorted(self.joints):
            missing = sorted(known - set(self.group_order))
            extra = sorted(set(self.group_order) - known)
            raise ValueError(
                f"field 'group_order': must list every joint once (missing {missing}, unknown {extra})"
            )
        if self.sigmas is not None:
            if len(self.sigmas) != len(self.joints):
                raise ValueError(f"field 'sigmas': {len(self.sigmas)} values for {len(self.joints)} joints")
            if any(not s > 0 for s in self.sigmas):
                raise ValueError("field 'sigmas': every sigma must be positive")
        if self.colors is not None and len(self.colors) != len(self.joints):
            raise ValueError(f"field 'colors': {len(self.colors)} values for {len(self.joints)} joints")
        return self

    @property
    def num_joints(self) -> int:
        """Number of joint types K."""
        return len(self.joints)

    @property
    def flip_index(self) -> list[int]:
        """For each joint, the index of the joint it becomes under a horizontal flip."""
        index = {j: i for i, j in enumerate(self.joints)}
        out = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            out[index[a]], out[index[b]] = index[b], index[a]
        return out

    @property
    def edge_index(self) -> list[tuple[int, int]]:
        """Edges as pairs of joint indices."""
        index = {j: i for i, j in enumerate(self.joints)}
        return [(index[a], index[b]) for a, b in self.edges]

    @property
    def group_index(self) -> list[int]:
        """Joint indices in grouping order."""
        index = {j: i for i, j in enumerate(self.joints)}
        return [index[j] for j in (self.group_order or self.joints)]

    @property
    def oks_sigmas(self) -> list[float]:
        """Per-joint OKS sigmas, with the default filled in."""
        return list(self.sigmas) if self.sigmas is not None else [DEFAULT_SIGMA] * self.num_joints

    def to_coco_category(self, category_id: int = 1) -> dict[str, Any]:
        """The COCO `categories` entry for this skeleton (1-based skeleton indices)."""
        return {
            "id": category_id,
            "name": self.name,
            "supercategory": self.name,
            "keypoints": list(self.joints),
            "skeleton": [[a + 1, b + 1] for a, b in self.edge_index],
        }

    @classmethod
    def from_coco_category(cls, category: dict[str, Any]) -> PoseSchema:
        """Build a schema from a COCO category, inferring flip pairs from left/right joint names."""
        joints = [str(j) for j in category.get("keypoints", [])]
        name = str(category.get("name", "category"))
        if not joints:
            raise AegroupError(f"COCO category '{name}': field 'keypoints' is empty or missing")
        edges = []
        for i, pair in enumerate(category.get("skeleton", [])):
            if len(pair) != 2 or not all(isinstance(v, int) and 1 <= v <= len(joints) for v in pair):
                raise AegroupError(
                    f"COCO category '{name}': field 'skeleton[{i}]' = {pair} is not a pair of "
                    f"1-based joint indices in 1..{len(joints)}"
                )
            edges.append((joints[pair[0] - 1], joints[pair[1] - 1]))
        try:
            return cls(name=name, joints=joints, edges=edges, flip_pairs=infer_flip_pairs(joints))
        except ValidationError as err:
            raise AegroupError(validation_message(f"COCO category '{name}'", err)) from None

    def to_yaml(self) -> str:
        """Serialise to YAML (lossless: `load_schema` reads it back to an equal schema)."""
        data = self.model_dump(exclude_none=True)
        data["edges"] = [list(e) for e in self.edges]
        data["flip_pairs"] = [list(p) for p in self.flip_pairs]
        if not data.get("description"):
            data.pop("description", None)
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def _side_partners(name: str) -> list[str]:
    """Names `name` would pair with: its left/right word swapped as a prefix or as a suffix."""
    out = []
    for left, right in _LEFT_RIGHT:
        for a, b in ((left, right), (left.capitalize(), right.capitalize()), (left.upper(), right.upper())):
            for this, other in ((a, b), (b, a)):
                if name.startswith(this) and len(name) > len(this):
                    out.append(other + name[len(this) :])
    match = _SUFFIX_SIDE.match(name)
    if match:
        stem, side, tail = match.groups()
        sep = side[0] if side[0] in "_-. " and len(side) > 1 else ""
        out.append(stem + sep + _OTHER_SIDE[side[len(sep) :]] + tail)
    return out


def infer_flip_pairs(joints: list[str]) -> list[tuple[str, str]]:
    """Pair joints whose names differ only by a left/right word: as a prefix (left_x/right_x, l_x/r_x,
    Lx/Rx) or a suffix, optionally followed by a number (x_left/x_right, x_l/x_r, wingL/wingR,
    hindlegL4/hindlegR4)."""
    present = set(joints)
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for j in joints:
        if j in used:
            continue
        for other in _side_partners(j):
            if other in present and other not in used and other != j:
                pairs.append((j, other))
                used.update((j, other))
                break
    return pairs


def _builtin_dir() -> Traversable:
    # Installed wheels carry schemas/ as aegroup.builtin_schemas; an editable install reads the source tree.
    try:
        return resources.files("aegroup.builtin_schemas")
    except ModuleNotFoundError:
        return resources.files("aegroup").joinpath("..", "schemas")


def builtin_schemas() -> list[str]:
    """Names of the skeletons shipped with aegroup."""
    root = _builtin_dir()
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def load_schema(name_or_path: str | Path | PoseSchema) -> PoseSchema:
    """Return a built-in schema by name, or load a YAML/JSON schema file."""
    if isinstance(name_or_path, PoseSchema):
        return name_or_path
    text_name = str(name_or_path)
    path = Path(text_name)
    if not path.exists() and path.suffix == "" and "/" not in text_name:
        resource = _builtin_dir() / f"{text_name}.yaml"
        if not resource.is_file():
            raise AegroupError(
                f"unknown schema '{text_name}': not a file, and not a built-in "
                f"({', '.join(builtin_schemas())})"
            )
        return _parse(resource.read_text(encoding="utf-8"), f"built-in schema '{text_name}'", yaml_text=True)
    if not path.is_file():
        raise AegroupError(f"{path}: schema file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise AegroupError(f"{path}: cannot read schema file ({err})") from None
    return _parse(text, str(path), yaml_text=path.suffix.lower() != ".json")


def _parse(text: str, source: str, yaml_text: bool) -> PoseSchema:
    try:
        data = yaml.safe_load(text) if yaml_text else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{source}: not valid {'YAML' if yaml_text else 'JSON'} ({first})") from None
    if not isinstance(data, dict):
        raise AegroupError(f"{source}: expected a mapping with fields 'name' and 'joints'")
    try:
        return PoseSchema.model_validate(data)
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None

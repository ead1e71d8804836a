"""Training configuration: YAML -> pydantic `TrainConfig` -> `--set` overrides -> resolved YAML."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
)
from pydantic_core import InitErrorDetails

from aegroup.data.transforms import AugmentConfig
from aegroup.decode.config import DecodeConfig
from aegroup.decode.groupers import available_groupers
from aegroup.errors import AegroupError, validation_message
from aegroup.io.atomic import atomic_write_text
from aegroup.io.jsonfile import read_json
from aegroup.loss import LossConfig
from aegroup.model.config import PRESETS, ModelConfig
from aegroup.schema import PoseSchema, load_schema


class SplitConfig(BaseModel):
    """One source of labelled frames: a pose file of any format `load_poses` reads, and where its pixels are.

    `weight` (training sources only) is in `TrainSplit`.
    """

    model_config = ConfigDict(extra="forbid")

    ann_file: Path = Field(
        description="Pose file: COCO keypoints JSON, SLEAP .slp, DeepLabCut CollectedData csv/h5 or project, "
        "or any other format `aegroup convert` reads."
    )
    image_dir: Path | None = Field(
        default=None,
        description="Folder the file's image names are relative to (null: the one the format implies, else "
        "the file's folder). Video frames are read from the video.",
    )
    video: Path | None = Field(
        default=None, description="Video to read the frames from instead of the one the file names (.slp)."
    )
    frames: tuple[int, int | None] | None = Field(
        default=None,
        description="Frame range [start, stop) of a single-video file: only labelled frames with start <= "
        "frame index < stop (stop null: to the end).",
    )
    categories: list[int | str] | None = Field(
        default=None,
        description="COCO category ids or names to use (all categories sharing the skeleton when null).",
    )

    @field_validator("frames")
    @classmethod
    def _range(cls, frames: tuple[int, int | None] | None) -> tuple[int, int | None] | None:
        if frames is not None and (frames[0] < 0 or (frames[1] is not None and frames[1] <= frames[0])):
            raise ValueError(
                f"[{frames[0]}, {frames[1]}] selects no frames: expected [start, stop), 0 <= start < stop"
            )
        return frames


class TrainSplit(SplitConfig):
    """A training source; with several, `weight` sets how often its images are drawn."""

    weight: float = Field(
        default=1.0,
        gt=0,
        description="Sampling weight: an epoch draws each of the source's images `weight` times (a fraction: "
        "that share of its images, a different draw each epoch).",
    )


def _one_or_many(value: Any) -> str:
    """Which form a `train` entry takes: one mapping or a list of them."""
    return "many" if isinstance(value, list) else "one"


_SPLIT_FORMS = ("one", "many")
"""Tags of the `train` union; pydantic puts them into error locations, where they mean nothing to a user."""


class ModelSection(BaseModel):
    """A model preset plus `ModelConfig` fields that override it (num_joints comes from the schema)."""

    model_config = ConfigDict(extra="allow")

    preset: Literal["paper", "mid", "tiny"] = Field(
        default="tiny", description="Starting point: 'paper' (4 stacks), 'mid' or 'tiny' (trains on a CPU)."
    )

    def resolve(self, num_joints: int, input_size: int | None) -> ModelConfig:
        """The full `ModelConfig`: the preset with every other field of this section applied on top."""
        fields: dict[str, Any] = {
            **PRESETS[self.preset],
            **(self.model_extra or {}),
            "num_joints": num_joints,
        }
        if input_size is not None:
            fields["input_size"] = input_size
        return ModelConfig(**fields)


class OptimConfig(BaseModel):
    """Adam (as in the paper) with a learning-rate schedule over optimiser steps."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(default=2e-4, gt=0, description="Peak learning rate (the paper's 2e-4).")
    betas: tuple[float, float] = Field(default=(0.9, 0.999), description="Adam betas.")
    weight_decay: float = Field(default=0.0, ge=0, description="L2 weight decay (Adam, not AdamW).")
    schedule: Literal["cosine", "step", "constant"] = Field(
        default="cosine",
        description="After warm-up: 'cosine' decays to lr * final_lr_scale at the last step; 'step' "
        "multiplies by gamma at each milestone; 'constant' keeps lr.",
    )
    warmup_steps: int = Field(default=0, ge=0, description="Linear warm-up from 0 to lr over these steps.")
    final_lr_scale: float = Field(
        default=0.01, ge=0, le=1, description="Cosine end point as a fraction of lr."
    )
    milestones: list[float] = Field(
        default_factory=lambda: [0.75],
        description="Step schedule: fractions of the total steps at which lr is multiplied by gamma.",
    )
    gamma: float = Field(default=0.1, gt=0, description="Step schedule: factor applied at each milestone.")
    grad_clip: float | None = Field(
        default=None, gt=0, description="Clip the gradient norm to this (off when null)."
    )

    @field_validator("milestones")
    @classmethod
    def _fractions(cls, milestones: list[float]) -> list[float]:
        if any(not 0 < m < 1 for m in milestones):
            raise ValueError("milestones are fractions of the total steps, each strictly between 0 and 1")
        return sorted(milestones)


class TrainConfig(BaseModel):
    """Everything one training run needs; every field has a documented default except the data."""

    model_config = ConfigDict(extra="forbid")

    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Built-in skeleton name or YAML/JSON file; null: the first train file's skeleton (COCO: "
        "its first category).",
    )
    train: Annotated[
        Annotated[TrainSplit, Tag("one")] | Annotated[list[TrainSplit], Tag("many")],
        Discriminator(_one_or_many),
    ] = Field(description="Training source, or a list of sources mixed by their `weight`.")
    val: SplitConfig | None = Field(default=None, description="Validation split (no validation when null).")
    init_from: Path | None = Field(
        default=None,
        description="Checkpoint (folder, file in it, or run folder) whose weights start the run; new "
        "optimiser and schedule. Same joints and model sizes required.",
    )
    frame_cache: Literal["auto", "memory", "none"] = Field(
        default="auto",
        description="Video frames: 'memory' decodes the labelled frames once at start and keeps them in "
        "memory; 'none' decodes each from the video when drawn; 'auto': memory when they fit in a quarter "
        "of the RAM.",
    )
    model: ModelSection = Field(default_factory=ModelSection, description="Model preset and overrides.")
    input_size: int | None = Field(
        default=None, ge=64, description="Square network input side in pixels (null: the preset's, tiny 128)."
    )
    eval_input_size: int | None = Field(
        default=None,
        ge=64,
        description="Network input side for validation, stored in checkpoints as the side `aegroup predict` "
        "resizes to. null: input_size; with augment.scale_reference 'native', the longest side of the train "
        "and val frames rounded up to a multiple of 4 x 2^model.depth (whole frames at native scale).",
    )
    max_instances: int = Field(default=30, ge=1, description="Instances per image kept for the tag loss.")
    sigma: float = Field(
        default=2.0, gt=0, description="Gaussian sigma of the target heatmaps (output pixels)."
    )
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="Training augmentation.")
    loss: LossConfig = Field(default_factory=LossConfig, description="Loss weights and push kind.")
    optim: OptimConfig = Field(
        default_factory=OptimConfig, description="Optimiser and learning-rate schedule."
    )
    batch_size: int = Field(
        default=16, ge=1, description="Images per step per process (global = x world size)."
    )
    epochs: int = Field(default=100, ge=1, description="Passes over the training set.")
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimiser steps (overrides epochs when set)."
    )
    workers: int = Field(default=2, ge=0, description="DataLoader worker processes per training process.")
    device: str = Field(default="auto", description="'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'.")
    mixed_precision: Literal["no", "fp16", "bf16"] = Field(
        default="no", description="Autocast dtype; 'fp16' also scales the loss (CUDA only)."
    )
    channels_last: bool = Field(
        default=True,
        description="Keep convolution weights and activations channels-last (NHWC): 1.2-1.4x faster "
        "tiny training steps on CPU (oneDNN, bench_train.py) and the layout GPU tensor cores want.",
    )
    seed: int = Field(default=0, description="Seeds weights, data order and augmentation.")
    output_dir: Path = Field(default=Path("runs/train"), description="Folder for checkpoints and logs.")
    val_every: int = Field(default=1, ge=1, description="Validate every this many epochs (and at the end).")
    checkpoint_every: int = Field(
        default=200, ge=1, description="Save the resumable `last` checkpoint every this many steps."
    )
    log_every: int = Field(default=10, ge=1, description="Write a CSV log row every this many steps.")
    val_method: str = Field(default="hungarian", description="Grouper used for validation decoding.")
    decode: DecodeConfig = Field(
        default_factory=DecodeConfig,
        description="Decoding parameters for validation (stored in checkpoints).",
    )

    _source: str = PrivateAttr(default="config")

    @property
    def source(self) -> str:
        """The config file this was read from (for error messages), or 'config'."""
        return self._source

    @property
    def train_splits(self) -> list[TrainSplit]:
        """The training sources as a list (one source or several)."""
        return self.train if isinstance(self.train, list) else [self.train]

    def train_field(self, index: int) -> str:
        """How error messages name training source `index`: 'train' or 'train[i]'."""
        return f"train[{index}]" if isinstance(self.train, list) else "train"

    @field_validator("train")
    @classmethod
    def _some_sources(cls, train: TrainSplit | list[TrainSplit]) -> TrainSplit | list[TrainSplit]:
        if isinstance(train, list) and not train:
            raise ValueError("the list of training sources is empty")
        return train

    @field_validator("device")
    @classmethod
    def _device(cls, device: str) -> str:
        if device not in ("auto", "cpu", "cuda") and not (
            device.startswith("cuda:") and device[5:].isdigit()
        ):
            raise ValueError(f"'{device}' is not 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return device

    @field_validator("val_method")
    @classmethod
    def _known_grouper(cls, method: str) -> str:
        names = available_groupers()
        if method not in names:
            raise ValueError(f"unknown grouper '{method}' (available: {', '.join(names)})")
        return method

    def resolve_schema(self) -> PoseSchema:
        """Load the skeleton: the named/file schema, else the first training file's (COCO: first category)."""
        if self.schema_ is not None:
            return load_schema(self.schema_)
        from aegroup.io.formats import detect_format, load_poses

        first = self.train_splits[0]
        if detect_format(first.ann_file) == "coco":
            return PoseSchema.from_coco_category(first_category(first.ann_file))
        return load_poses(first.ann_file, video=first.video).schema

    def resolve_model(self, num_joints: int, source: str = "config") -> ModelConfig:
        """The full model configuration for `num_joints` joints; errors name `model.<field>`."""
        try:
            cfg = self.model.resolve(num_joints, self.input_size)
        except ValidationError as err:
            raise AegroupError(f"{source}: {_model_error(err)}") from None
        levels = 2**cfg.depth * cfg.output_stride
        for name, size in (("input_size", cfg.input_size), ("eval_input_size", self.eval_input_size)):
            if size is not None and size % levels:
                raise AegroupError(
                    f"{source}: field '{name}': {size} must be a multiple of {levels} "
                    f"(stride {cfg.output_stride} x 2^model.depth {cfg.depth})"
                )
        return cfg

    def to_yaml(self, model_config: ModelConfig | None = None) -> str:
        """The configuration as YAML; with `model_config`, the model section lists every resolved size."""
        data = self.model_dump(mode="json", by_alias=True)
        # Absolute paths, so that the saved file means the same wherever it is read from.
        _map_paths(data, lambda p: str(Path(p).resolve()))
        if model_config is not None:
            sizes = model_config.model_dump(exclude={"num_joints", "input_size"})
            data["model"] = {"preset": self.model.preset, **sizes}
            data["input_size"] = model_config.input_size
        return yaml.safe_dump(data, sort_keys=False)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b=v` into (['a', 'b'], v) with `v` parsed as a YAML value (so 2 is an int, [1, 2] a list)."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(p.strip() for p in parts):
        raise AegroupError(f"--set '{text}': expected FIELD.SUBFIELD=VALUE, e.g. --set model.nstack=2")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise AegroupError(f"--set '{text}': value is not valid YAML") from None
    return [p.strip() for p in parts], parsed


def apply_override(data: dict[str, Any], keys: list[str], value: Any, text: str) -> None:
    """Set `data[k0][k1]...` = value, creating mappings on the way; a number indexes a list
    (`train.1.weight`); anything else on the path that is not a mapping is an error."""
    node: Any = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise AegroupError(
                    f"--set '{text}': field '{where}': not an index of the {len(node)} entries"
                )
            if last:
                node[int(key)] = value
            node = node[int(key)]
            continue
        if not isinstance(node, dict):
            raise AegroupError(f"--set '{text}': field '{'.'.join(keys[:i])}' is not a mapping")
        if last:
            node[key] = value
        elif node.get(key) is None:
            node[key] = {}
        node = node[key]


_SPLIT_PATHS = ("ann_file", "image_dir", "video")
"""Path fields of a split."""


def _map_paths(data: dict[str, Any], fn: Callable[[str], str]) -> None:
    """Apply `fn` to every file path of a config mapping (splits, schema file, init_from, output_dir)."""
    train = data.get("train")
    splits = [*(train if isinstance(train, list) else [train]), data.get("val")]
    for split in splits:
        for key in _SPLIT_PATHS:
            if isinstance(split, dict) and isinstance(split.get(key), str):
                split[key] = fn(split[key])
    schema = data.get("schema")
    if isinstance(schema, str) and ("/" in schema or Path(schema).suffix):
        data["schema"] = fn(schema)
    for key in ("init_from", "output_dir"):
        if isinstance(data.get(key), str):
            data[key] = fn(data[key])


def _anchor_paths(data: dict[str, Any], base: Path) -> None:
    """Make relative file paths of a config file relative to that file's folder, not the current folder."""
    _map_paths(data, lambda p: p if Path(p).is_absolute() else str(base / p))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config into a mapping whose relative paths are anchored at the file's folder."""
    source = Path(path)
    if not source.is_file():
        raise AegroupError(f"{source}: config file not found")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise AegroupError(f"{source}: cannot read config ({err})") from None
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AegroupError(f"{source}: not valid YAML ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AegroupError(f"{source}: expected a mapping of config fields at the top level")
    _anchor_paths(data, source.resolve().parent)
    return data


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML training config, apply `--set a.b=v` overrides, validate; errors name file and field."""
    data = read_config_file(path)
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(data, keys, value, text)
    return validate_config(data, str(path))


def validate_config(data: dict[str, Any], source: str) -> TrainConfig:
    """Validate a config mapping into a `TrainConfig`; a problem becomes one `AegroupError` line."""
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as err:
        raise AegroupError(validation_message(source, _without_form_tags(err))) from None
    config._source = source
    # Model fields are only known to ModelConfig: check them now, not at the first step.
    config.resolve_model(num_joints=1, source=source)
    if config.schema_ is not None:
        try:
            load_schema(config.schema_)
        except AegroupError as err:
            raise AegroupError(f"{source}: field 'schema': {err}") from None
    return config


def _without_form_tags(err: ValidationError) -> ValidationError:
    """The same errors with the `train` union's tags taken out of their locations."""
    details = [
        InitErrorDetails(
            type=e["type"],
            loc=tuple(p for p in e["loc"] if p not in _SPLIT_FORMS),
            input=e["input"],
            ctx=e.get("ctx", {}),
        )
        for e in err.errors()
    ]
    return ValidationError.from_exception_data(err.title, details)


def first_category(ann_file: Path) -> dict[str, Any]:
    """The first entry of a COCO file's `categories` (used when the config names no schema)."""
    data = read_json(ann_file, "COCO file")
    categories = data.get("categories") if isinstance(data, dict) else None
    if not categories or not isinstance(categories[0], dict):
        raise AegroupError(f"{ann_file}: field 'categories' is empty; set 'schema' in the config")
    return categories[0]


def _model_error(err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    prefix = "" if field == "input_size" else "model."
    return f"field '{prefix}{field}': {str(first['msg']).removeprefix('Value error, ')}"


def save_resolved(config: TrainConfig, path: Path, model_config: ModelConfig | None = None) -> Path:
    """Write the resolved config (anchored paths, every default and model size filled in) atomically."""
    return atomic_write_text(path, config.to_yaml(model_config))

"""Model configuration: every size of the stacked-hourglass AE network, and named presets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aegroup.errors import AegroupError, validation_message

PresetName = Literal["paper", "mid", "tiny"]

OUTPUT_STRIDE = 4
"""Input pixels per heatmap pixel: the stem's 7x7 stride-2 convolution and one 2x2 pooling."""

PRESETS: dict[str, dict[str, int]] = {
    # Newell et al. 2017 / princeton-vl/pose-ae-train: 4 stacks, 256 wide, +128 per level, 512 input.
    "paper": {
        "nstack": 4,
        "channels": 256,
        "increase": 128,
        "depth": 4,
        "stem_channels": 64,
        "input_size": 512,
    },
    # Half the stacks and width: a single-GPU model that still groups crowds well.
    "mid": {"nstack": 2, "channels": 128, "increase": 64, "depth": 4, "stem_channels": 32, "input_size": 384},
    # Trains in minutes on a laptop CPU (synthetic data, demos, tests).
    "tiny": {"nstack": 2, "channels": 32, "increase": 16, "depth": 3, "stem_channels": 16, "input_size": 128},
}


class ModelConfig(BaseModel):
    """Sizes of a stacked-hourglass associative-embedding network (output stride 4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_joints: int = Field(ge=1, description="K: joint types, i.e. heatmaps per stack (from the schema).")
    tag_dim: int = Field(default=1, ge=1, description="D: dimensions of each joint's tag.")
    nstack: int = Field(default=4, ge=1, description="Hourglasses stacked, each one supervised.")
    channels: int = Field(default=256, ge=4, description="Feature width between hourglasses (inp_dim).")
    increase: int = Field(default=128, ge=0, description="Width added at each lower hourglass level.")
    depth: int = Field(default=4, ge=1, description="Hourglass recursion depth (halvings of resolution).")
    stem_channels: int = Field(default=64, ge=4, description="Width of the stem's 7x7 convolution.")
    input_size: int = Field(
        default=512, ge=32, description="Square input side the model is trained at (pixels); any size runs."
    )

    @property
    def output_stride(self) -> int:
        """Input pixels per heatmap pixel (always 4)."""
        return OUTPUT_STRIDE

    @classmethod
    def preset(cls, name: str, num_joints: int, tag_dim: int = 1, **overrides: Any) -> ModelConfig:
        """A named preset ("paper", "mid", "tiny") for `num_joints` joints, with fields overridden."""
        if name not in PRESETS:
            raise AegroupError(f"model preset '{name}' is unknown; choose one of {', '.join(PRESETS)}")
        fields: dict[str, Any] = {**PRESETS[name], "num_joints": num_joints, "tag_dim": tag_dim, **overrides}
        try:
            return cls(**fields)
        except ValidationError as err:
            raise AegroupError(validation_message(f"model preset '{name}'", err)) from None

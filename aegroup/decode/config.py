"""`DecodeConfig`: every decoding parameter, with the reference (Newell et al.; HigherHRNet) defaults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DecodeConfig(BaseModel):
    """Parameters of candidate extraction, grouping and refinement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_instances: int = Field(
        30,
        ge=1,
        description="Candidates kept per joint type (top-k after NMS) and instances matched per step.",
    )
    detection_threshold: float = Field(
        0.1, ge=0.0, description="A peak becomes a candidate only when its heatmap value is above this."
    )
    tag_threshold: float = Field(
        1.0, gt=0.0, description="A candidate joins an instance only when their tag distance is below this."
    )
    nms_kernel: int = Field(5, ge=1, description="Max-pooling window (odd) used to keep only local maxima.")
    use_detection_val: bool = Field(
        True,
        description="Hungarian cost = round(tag distance) * 100 - heatmap value (strong joints win ties).",
    )
    gate_by_threshold: bool = Field(
        True,
        description="Hungarian: pairs at or beyond tag_threshold cost as much as padding, so the solver "
        "never gives up an acceptable match to make a rejected one cheaper (False: the references' cost).",
    )
    ignore_too_much: bool = Field(
        False, description="Skip a joint type entirely once max_instances instances exist (reference option)."
    )
    adjust: bool = Field(True, description="Shift each joint a quarter pixel toward its higher neighbour.")
    refine: bool = Field(
        True, description="Fill each instance's missing joints from the heatmaps, guided by its mean tag."
    )

    @field_validator("nms_kernel")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"must be odd, got {value}")
        return value

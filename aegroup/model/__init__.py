"""The stacked-hourglass associative-embedding network and its configuration."""

from aegroup.model.config import OUTPUT_STRIDE, PRESETS, ModelConfig
from aegroup.model.hourglass import HourglassAE, ModelOutput, build_model

__all__ = ["OUTPUT_STRIDE", "PRESETS", "HourglassAE", "ModelConfig", "ModelOutput", "build_model"]

"""Training losses: masked heatmap MSE and the associative-embedding push/pull loss."""

from aegroup.loss.ae import ae_loss, gather_joint_tags
from aegroup.loss.heatmap import heatmap_loss
from aegroup.loss.total import LossConfig, LossTerms, flatten_tags, total_loss

__all__ = [
    "LossConfig",
    "LossTerms",
    "ae_loss",
    "flatten_tags",
    "gather_joint_tags",
    "heatmap_loss",
    "total_loss",
]

"""Decode data types: per-image grouping candidates and grouped instances (numpy arrays, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidates:
    """One image's joint candidates, highest score first per joint; entries with score 0 are padding.

    `xy` (K, M, 2) x, y in heatmap pixels (after the optional quarter-pixel adjust), `score` (K, M) heatmap
    value at the peak, `tag` (K, M, D) tag read at the peak pixel.
    """

    xy: np.ndarray
    score: np.ndarray
    tag: np.ndarray

    @classmethod
    def empty(cls, num_joints: int, slots: int, tag_dim: int) -> Candidates:
        """All-padding candidates of the given shape."""
        return cls(
            xy=np.zeros((num_joints, slots, 2), np.float32),
            score=np.zeros((num_joints, slots), np.float32),
            tag=np.zeros((num_joints, slots, tag_dim), np.float32),
        )

    @property
    def num_joints(self) -> int:
        """Number of joint types K."""
        return int(self.score.shape[0])

    @property
    def tag_dim(self) -> int:
        """Tag dimension D."""
        return int(self.tag.shape[-1])


@dataclass
class Instance:
    """One grouped instance: `keypoints` (K, 3) x, y, score (score 0 = absent), `tags` (K, D), `score`.

    `score` is the mean of the K joint scores after grouping and before refinement, as in the references.
    `refined` (K,) bool marks the joints refinement filled in from the maps (no grouped candidate: a guess
    guided by the instance's mean tag); all False when not given. Coordinates are heatmap pixels (pixel
    centres at integers) until mapped by `to_image`.
    """

    keypoints: np.ndarray
    tags: np.ndarray
    score: float
    refined: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        if self.refined.size == 0:
            self.refined = np.zeros(self.keypoints.shape[0], bool)

    @property
    def visible(self) -> np.ndarray:
        """(K,) bool: which joints are present."""
        return self.keypoints[:, 2] > 0

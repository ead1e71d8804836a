"""Synthetic video poses with known identities for the tracking tests: any schema's skeleton shape (from
`aegroup.synth`) moving along given or random smooth paths, heading where it goes."""

from __future__ import annotations

import numpy as np

from aegroup.io.poses import VISIBLE, Frame, PoseSet, VideoRef
from aegroup.schema import PoseSchema
from aegroup.synth import grow, skeleton_layout


def wandering_paths(
    animals: int, frames: int, size: tuple[int, int] = (640, 480), speed: float = 4.0, seed: int = 0
) -> np.ndarray:
    """(A, T, 2) smooth random centre paths inside a `size` (width, height) image: each a sum of three
    sinusoids per axis, about `speed` pixels per frame."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.5, 1.5, (animals, 2, 3)) / np.asarray(size, np.float64)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (animals, 2, 3))

    def paths(scale: float) -> np.ndarray:
        t = np.arange(frames, dtype=np.float64)[:, None, None, None]
        wave = (np.sin(t * scale * freq + phase) / np.arange(1, 4)).sum(axis=3) / 1.84
        return np.asarray(size, np.float64) * (0.5 + 0.38 * wave).transpose(1, 0, 2)

    # Speed grows with the frequencies: one rescale brings the mean step to about `speed`.
    trial = paths(1.0)
    mean_step = float(np.linalg.norm(np.diff(trial, axis=1), axis=2).mean()) if frames > 1 else 0.0
    return paths(speed / mean_step) if mean_step > 0 else trial


def animal_poses(
    schema: PoseSchema,
    paths: np.ndarray,
    length: float = 60.0,
    size: tuple[int, int] = (640, 480),
    jitter: float = 1.0,
    seed: int = 0,
) -> PoseSet:
    """A one-video `PoseSet` of A animals following (A, T, 2) centre paths, frame t at frame index t.

    Each animal is the schema's skeleton (`aegroup.synth` layout) in a posture of its own, scaled to about
    `length` pixels and turned to its direction of motion; every joint then moves by Gaussian noise of
    `jitter` pixels per frame. Track a is `animal_a`; instances are listed in animal order.
    """
    rng = np.random.default_rng(seed)
    layout = skeleton_layout(schema)
    animals, frames = paths.shape[:2]
    scale = length / max(layout.extent, 1e-6)
    step = np.gradient(paths, axis=1) if frames > 1 else np.zeros_like(paths)
    heading = np.arctan2(step[..., 1], step[..., 0])
    shapes = [grow(layout, rng) * scale for _ in range(animals)]
    out = []
    for t in range(frames):
        keypoints = np.zeros((animals, schema.num_joints, 3))
        for a, shape in enumerate(shapes):
            c, s = np.cos(heading[a, t]), np.sin(heading[a, t])
            turned = (shape - shape.mean(axis=0)) @ np.array([[c, s], [-s, c]])
            keypoints[a, :, :2] = turned + paths[a, t] + rng.normal(0.0, jitter, turned.shape)
            keypoints[a, :, 2] = VISIBLE
        out.append(
            Frame.build(t, size[0], size[1], keypoints, track=np.arange(animals), video=0, frame_index=t)
        )
    video = VideoRef("synthetic.mp4", size[0], size[1], frames)
    return PoseSet(schema, out, tracks=[f"animal_{a}" for a in range(animals)], videos=[video])

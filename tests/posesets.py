"""Synthetic `PoseSet`s and a tiny numbered video for the io tests; a comparison saying what differs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from aegroup.io.formats import load_poses
from aegroup.io.poses import ABSENT, OCCLUDED, VISIBLE, Frame, PoseSet, VideoRef
from aegroup.schema import PoseSchema
from aegroup.synth import synthesize

SCHEMA_YAML = """
name: critter
joints: [snout, neck, earL, earR, left_paw, right_paw, tail_base, tail_tip]
edges: [[snout, neck], [neck, earL], [neck, earR], [neck, left_paw], [neck, right_paw], [neck, tail_base],
        [tail_base, tail_tip]]
flip_pairs: [[earL, earR], [left_paw, right_paw]]
"""
"""A skeleton with L/R suffix names and prefix names, so flip pairs survive formats that infer them."""

TRACKS = ["alpha", "beta", "gamma"]


def critter() -> PoseSchema:
    """The test skeleton."""
    return PoseSchema.model_validate(yaml.safe_load(SCHEMA_YAML))


def synthetic_poses(
    folder: Path, images: int = 5, tracks: bool = True, occluded: bool = True, predicted: bool = True
) -> PoseSet:
    """Synthetic images (96 x 80, 2-3 instances each) as a PoseSet with some joints removed and, as asked,
    some occluded (v = 1; synthesize's occluders hide others), instances on tracks, and the last frame's
    instances predicted with scores (and no occlusion flags)."""
    ann = synthesize(
        critter(), folder, n_images=images, min_instances=2, max_instances=3, size=(96, 80), seed=3
    )
    poses = load_poses(ann)
    rng = np.random.default_rng(5)
    frames = []
    for i, f in enumerate(poses.frames):
        kp = f.keypoints.copy()
        # Fractional coordinates exercise exactness; some joints removed, some occluded.
        kp[..., :2] += rng.uniform(0, 1, kp[..., :2].shape).round(4)
        kp[:, 1 + i % 5, :] = (np.nan, np.nan, ABSENT)
        if occluded:
            kp[0, (3 + i) % 8, 2] = np.where(kp[0, (3 + i) % 8, 2] > 0, OCCLUDED, ABSENT)
        n = len(kp)
        user = not (predicted and i == len(poses.frames) - 1)
        if not user:  # a model predicts where a joint is, not whether it is hidden
            kp[kp[..., 2] == OCCLUDED, 2] = VISIBLE
        frames.append(
            Frame.build(
                f.id,
                f.width,
                f.height,
                kp,
                scores=None if user else rng.uniform(0.1, 1, (n, 8)).round(6),
                instance_score=None if user else rng.uniform(0.1, 1, n).round(6),
                track=list(range(n)) if tracks else None,
                user=user,
                file_name=f.file_name,
            )
        )
    return replace(poses, frames=frames, tracks=TRACKS if tracks else [])


def _key(f: Frame, n: int) -> tuple[int, bool, float, float]:
    xy = f.keypoints[n, f.keypoints[n, :, 2] > 0, :2]
    return (
        int(f.track[n]),
        bool(f.user[n]),
        round(float(xy[:, 0].mean()), 2),
        round(float(xy[:, 1].mean()), 2),
    )


def assert_same_poses(
    a: PoseSet,
    b: PoseSet,
    *,
    occluded: bool = True,
    tracks: bool = True,
    predictions: bool = True,
    scores: bool = True,
) -> None:
    """Frames in the same order with the same instances (matched by track, user flag and centre): exact
    coordinates (1e-3 px), the same visibility (occluded read back as visible where a format has no such
    flag), absent joints absent with NaN coordinates, tracks, user flags and scores where kept."""
    assert len(a) == len(b), (len(a), len(b))
    assert a.schema.joints == b.schema.joints
    if tracks:
        assert a.tracks == b.tracks
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert (fa.width, fa.height) == (fb.width, fb.height)
        assert fa.num_instances == fb.num_instances, (fa.id, fa.num_instances, fb.num_instances)
        if not tracks:
            fa = replace(fa, track=np.full(fa.num_instances, -1))
            fb = replace(fb, track=np.full(fb.num_instances, -1))
        if not predictions:
            fa = replace(fa, user=np.ones(fa.num_instances, bool))
        oa = sorted(range(fa.num_instances), key=lambda n: _key(fa, n))
        ob = sorted(range(fb.num_instances), key=lambda n: _key(fb, n))
        ka, kb = fa.keypoints[oa], fb.keypoints[ob]
        va = ka[..., 2] if occluded else np.where(ka[..., 2] > 0, VISIBLE, ABSENT)
        np.testing.assert_array_equal(va, kb[..., 2])
        assert np.isnan(kb[kb[..., 2] == 0, :2]).all(), "an absent joint has coordinates"
        np.testing.assert_allclose(ka[..., :2], kb[..., :2], atol=1e-3, equal_nan=True)
        np.testing.assert_array_equal(fa.track[oa], fb.track[ob])
        np.testing.assert_array_equal(fa.user[oa], fb.user[ob])
        if predictions and scores:
            np.testing.assert_allclose(
                fa.instance_score[oa], fb.instance_score[ob], atol=1e-9, equal_nan=True
            )
            present = ka[..., 2] > 0
            np.testing.assert_allclose(
                fa.scores[oa][present], fb.scores[ob][present], atol=1e-9, equal_nan=True
            )


W, H, FRAMES, BITS = 64, 48, 40, 8
"""A tiny video: each frame shows its number as 8 black/white 8 x 8 blocks along the top row."""


def frame_pixels(i: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame number i: bit b of i sets block b of the top row white."""
    pixels = np.full((H, W, 3), 64, np.uint8)
    for b in range(BITS):
        if i >> b & 1:
            pixels[0:8, 8 * b : 8 * b + 8] = 255
        else:
            pixels[0:8, 8 * b : 8 * b + 8] = 0
    pixels[16:, :, 1] = (4 * i) % 256  # something that changes, so frames differ beyond the code
    return pixels


def frame_number(pixels: np.ndarray) -> int:
    """The number a decoded frame shows (blocks read by their mean brightness, robust to compression)."""
    means = [pixels[1:7, 8 * b + 1 : 8 * b + 7].mean() for b in range(BITS)]
    return sum(1 << b for b, m in enumerate(means) if m > 128)


def encode(path: Path, codec: str, gop: int, options: dict[str, str] | None = None) -> Path:
    """Write the numbered test video with a PyAV encoder; a keyframe at least every `gop` frames."""
    import av

    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.gop_size = gop
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(frame_pixels(i), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


LABELLED = [3, 4, 5, 12, 25, 26]
"""Frames of the test video that `video_poses` labels."""


def video_poses(folder: Path) -> PoseSet:
    """A PoseSet on the numbered test video (written to folder/clip.mp4): two tracked instances per frame,
    their first joint at (frame number, frame number + 0.25) so that a frame's labels identify it."""
    folder.mkdir(parents=True, exist_ok=True)
    video = encode(folder / "clip.mp4", "libx264", gop=10)
    schema = critter()
    rng = np.random.default_rng(2)
    frames = []
    for n, i in enumerate(LABELLED):
        kp = np.column_stack([rng.uniform(0, W, (16, 2)).round(3), np.full(16, VISIBLE)]).reshape(2, 8, 3)
        kp[0, 0] = (i, i + 0.25, VISIBLE)
        kp[1, 2 + n % 5] = (np.nan, np.nan, ABSENT)
        frames.append(Frame.build(n + 1, W, H, kp, track=[0, 1], video=0, frame_index=i))
    return PoseSet(schema, frames, tracks=["female", "male"], videos=[VideoRef(str(video), W, H, FRAMES)])


def walking_poses(frames: int = 20) -> PoseSet:
    """Two animals walking right side by side, 40 px apart, 3 px a frame: tracks `left` (upper) and `right`,
    on a 200 x 100 video that is never decoded (walk.mp4 does not exist)."""
    schema = critter()
    offsets = np.linspace(-6, 6, schema.num_joints)[:, None] * [1.0, 0.3]
    out = []
    for t in range(frames):
        kp = np.full((2, schema.num_joints, 3), float(VISIBLE))
        for a in range(2):
            kp[a, :, :2] = offsets + np.array([20 + 3 * t, 20 + 40 * a])
        out.append(Frame.build(t + 1, 200, 100, kp, track=[0, 1], video=0, frame_index=t))
    return PoseSet(schema, out, tracks=["left", "right"], videos=[VideoRef("walk.mp4", 200, 100, frames)])

"""Public decoding entry points: maps or candidates in, `Instance` lists out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from aegroup.decode.candidates import (
    batch_candidates_numpy,
    check_finite,
    check_maps,
    extract_candidates,
    to_numpy,
)
from aegroup.decode.config import DecodeConfig
from aegroup.decode.groupers import GROUPERS, Grouper, get_grouper
from aegroup.decode.refine import refine
from aegroup.decode.types import Candidates, Instance
from aegroup.errors import AegroupError, validation_message
from aegroup.geometry import compose, heatmap_to_input
from aegroup.schema import PoseSchema


def resolve_config(
    config: DecodeConfig | None, params: dict[str, Any], source: str = "decode parameters"
) -> DecodeConfig:
    """`config` (or the defaults) with keyword overrides applied and validated; errors name `source`."""
    base = config or DecodeConfig()
    if not params:
        return base
    try:
        return DecodeConfig.model_validate({**base.model_dump(), **params})
    except ValidationError as err:
        raise AegroupError(validation_message(source, err)) from None


def group(
    heatmaps: Any,
    tags: Any,
    schema: PoseSchema,
    method: str | Grouper = "hungarian",
    config: DecodeConfig | None = None,
    **params: Any,
) -> list[Instance]:
    """Instances of one image, highest score first; `heatmaps` (K, H, W), `tags` (K, H, W, D), numpy or torch.

    `params` override fields of `config` (e.g. `tag_threshold=0.5`). Keypoints are heatmap pixels.
    """
    cfg = resolve_config(config, params)
    heat, tag = check_maps(heatmaps, tags, schema.num_joints)
    return _group_image(extract_candidates(heat, tag, cfg), (heat, tag), schema, method, cfg)


def group_candidates(
    candidates: Candidates,
    schema: PoseSchema,
    method: str | Grouper = "hungarian",
    config: DecodeConfig | None = None,
    **params: Any,
) -> list[Instance]:
    """Instances from saved candidates alone (no maps, so no refinement), highest score first."""
    cfg = resolve_config(config, params)
    if candidates.num_joints != schema.num_joints:
        raise AegroupError(
            f"candidates: {candidates.num_joints} joint types but the schema has {schema.num_joints} joints"
        )
    for name in ("xy", "score", "tag"):
        check_finite(getattr(candidates, name), f"candidates.{name}")
    return _assemble(candidates, _run_grouper(candidates, schema, method, cfg), None)


def decode_batch(
    heatmaps: Any,
    tags: Any,
    schema: PoseSchema,
    method: str | Grouper = "hungarian",
    config: DecodeConfig | None = None,
    **params: Any,
) -> list[list[Instance]]:
    """Instances per image of a batch: `heatmaps` (B, K, H, W), `tags` (B, K, D, H, W) (model layout).

    Tensors: candidate extraction runs batched on their device. Numpy arrays (e.g. ONNX Runtime's outputs):
    it runs per image without importing torch, with the same result. Grouping and refinement run on CPU.
    """
    return decode_batch_with_candidates(heatmaps, tags, schema, method, config, **params)[0]


def decode_batch_with_candidates(
    heatmaps: Any,
    tags: Any,
    schema: PoseSchema,
    method: str | Grouper = "hungarian",
    config: DecodeConfig | None = None,
    **params: Any,
) -> tuple[list[list[Instance]], list[Candidates]]:
    """`decode_batch`, plus each image's candidates (heatmap pixels) from the same single extraction."""
    cfg = resolve_config(config, params)
    if isinstance(heatmaps, np.ndarray) and isinstance(tags, np.ndarray):
        cands, heat_np, tag_np = batch_candidates_numpy(heatmaps, tags, schema.num_joints, cfg)
    else:
        from aegroup.decode.torch_candidates import batch_candidates  # torch only here

        cands, heat_np, tag_np = batch_candidates(heatmaps, tags, schema.num_joints, cfg)
    instances = [
        _group_image(c, None if heat_np is None else (heat_np[b], tag_np[b]), schema, method, cfg)
        for b, c in enumerate(cands)
    ]
    return instances, cands


def warm_up(schema: PoseSchema) -> None:
    """Load the compiled decoding kernels now (compiling them once after install: ~10 s), e.g. on a thread.

    Decodes a tiny image of `schema` with every built-in grouper, so that a later call does not wait.
    """
    k = schema.num_joints
    heat = np.zeros((k, 8, 8), np.float32)
    tags = np.zeros((k, 8, 8, 1), np.float32)
    first, second = schema.group_index[0], schema.group_index[-1]
    heat[first, 1, 1] = heat[first, 6, 6] = 1.0  # two instances, told apart by their tags
    tags[first, 6, 6] = 5.0
    # A second joint (when the schema has one) with two candidates near the first instance's tag: an
    # ambiguous match, which the Hungarian grouper hands to its solver. The other joints are refined.
    heat[second, 1, 3] = heat[second, 6, 3] = 0.9
    for method in GROUPERS:
        group(heat, tags, schema, method)


def _group_image(
    candidates: Candidates,
    maps: tuple[np.ndarray, np.ndarray] | None,
    schema: PoseSchema,
    method: str | Grouper,
    cfg: DecodeConfig,
) -> list[Instance]:
    """Group one image's candidates, then refine from its maps when asked."""
    slots = _run_grouper(candidates, schema, method, cfg)
    return _assemble(candidates, slots, maps if cfg.refine else None, cfg.adjust)


def _run_grouper(
    candidates: Candidates, schema: PoseSchema, method: str | Grouper, cfg: DecodeConfig
) -> np.ndarray:
    """Call the grouper and check its answer obeys the protocol (a plugin's bug must not pass silently)."""
    grouper = get_grouper(method)
    slots = np.asarray(grouper(candidates, schema.group_index, cfg))
    if any(grouper is builtin for builtin in GROUPERS.values()):
        return slots  # the built-ins are held to the protocol by the property tests
    k, m = candidates.score.shape
    if slots.ndim != 2 or slots.shape[1] != k or not np.issubdtype(slots.dtype, np.integer):
        raise AegroupError(f"grouper {method!r}: returned shape {slots.shape}, expected (N, {k}) integers")
    used = slots >= 0
    if (slots >= m).any() or (slots < -1).any():
        raise AegroupError(f"grouper {method!r}: candidate slot outside -1..{m - 1}")
    if used.any() and (candidates.score[np.nonzero(used)[1], slots[used]] <= cfg.detection_threshold).any():
        raise AegroupError(f"grouper {method!r}: used a candidate at or below the detection threshold")
    flat = (np.nonzero(used)[1] * m + slots[used]).tolist()
    if len(set(flat)) != len(flat):
        raise AegroupError(f"grouper {method!r}: put one candidate into two instances")
    return slots[used.any(axis=1)]


def _assemble(
    candidates: Candidates,
    slots: np.ndarray,
    maps: tuple[np.ndarray, np.ndarray] | None,
    adjust: bool = True,
) -> list[Instance]:
    """Instances from slots: gather candidates, score = mean joint score, refine, sort by score."""
    n, k = slots.shape
    present = slots >= 0
    joint = np.arange(k)  # broadcasts against the (N, K) slots
    safe = np.where(present, slots, 0)
    keypoints = np.zeros((n, k, 3), np.float32)
    keypoints[:, :, :2] = np.where(present[..., None], candidates.xy[joint, safe], 0)
    keypoints[:, :, 2] = np.where(present, candidates.score[joint, safe], 0)
    tags = np.where(present[..., None], candidates.tag[joint, safe], 0).astype(np.float32)
    # Score before refinement, as the references do: filled-in joints are guesses.
    scores = keypoints[:, :, 2].sum(axis=1) / k if k else np.zeros(n, np.float32)
    if maps is not None:
        refine(maps[0], maps[1], keypoints, tags, adjust)
    refined = ~present & (keypoints[:, :, 2] > 0)
    order = np.argsort(-scores, kind="stable")
    return [
        Instance(keypoints=keypoints[i], tags=tags[i], score=float(scores[i]), refined=refined[i])
        for i in order
    ]


def to_image(instances: list[Instance], inverse: Any, stride: int) -> list[Instance]:
    """Instances mapped from heatmap pixels to image pixels; `inverse` is the (2, 3) input -> image affine.

    Heatmap pixel x covers input pixels around `stride * x + (stride - 1) / 2`
    (`aegroup.geometry.heatmap_to_input`, the frame the training targets use). Absent joints stay
    at (0, 0) with score 0.
    """
    a = _heatmap_to_image(inverse, stride)
    out = []
    for inst in instances:
        kp = inst.keypoints.astype(np.float64).copy()
        kp[:, :2] = kp[:, :2] @ a[:, :2].T + a[:, 2]
        kp[kp[:, 2] <= 0, :2] = 0
        out.append(replace(inst, keypoints=kp.astype(np.float32)))
    return out


def to_image_candidates(candidates: Candidates, inverse: Any, stride: int) -> Candidates:
    """Candidates mapped from heatmap to image pixels like `to_image` (padding stays at 0, 0)."""
    a = _heatmap_to_image(inverse, stride)
    xy = candidates.xy.astype(np.float64) @ a[:, :2].T + a[:, 2]
    xy[candidates.score <= 0] = 0
    return Candidates(xy=xy.astype(np.float32), score=candidates.score, tag=candidates.tag)


def _heatmap_to_image(inverse: Any, stride: int) -> np.ndarray:
    """(2, 3) heatmap -> image affine from the (2, 3) input -> image affine `inverse`."""
    inverse = to_numpy(inverse, "inverse affine").reshape(2, 3).astype(np.float64)
    return compose(inverse, heatmap_to_input(stride))

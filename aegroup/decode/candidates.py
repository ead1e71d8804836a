"""Joint candidates from heatmaps: max-pool NMS, top-k peaks per joint above the threshold, tags at peaks."""

from __future__ import annotations

from typing import Any

import numpy as np

from aegroup.decode.config import DecodeConfig
from aegroup.decode.types import Candidates
from aegroup.errors import AegroupError


def to_numpy(array: Any, name: str) -> np.ndarray:
    """A float32 numpy view of a numpy array or torch tensor (never imports torch itself)."""
    if hasattr(array, "detach"):  # a torch tensor; avoid importing torch here
        array = array.detach().cpu().numpy()
    try:
        out = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise AegroupError(f"{name}: not a numeric array ({err})") from None
    return out


def check_maps(heatmaps: Any, tags: Any, num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one image's maps: heatmaps (K, H, W) and tags (K, H, W, D) or (K, H, W); all finite."""
    heat = to_numpy(heatmaps, "heatmaps")
    tag = to_numpy(tags, "tags")
    if heat.ndim != 3:
        raise AegroupError(f"heatmaps: expected shape (K, H, W), got {tuple(heat.shape)}")
    if heat.shape[0] != num_joints:
        raise AegroupError(f"heatmaps: {heat.shape[0]} channels but the schema has {num_joints} joints")
    if tag.ndim == 3:
        tag = tag[..., None]
    if tag.ndim != 4 or tag.shape[:3] != heat.shape:
        raise AegroupError(
            f"tags: expected shape (K, H, W, D) matching heatmaps {tuple(heat.shape)}, got {tuple(tag.shape)}"
        )
    check_finite(heat, "heatmaps")
    check_finite(tag, "tags")
    return heat, tag


def check_batch_shapes(heat_shape: tuple[int, ...], tag_shape: tuple[int, ...], num_joints: int) -> None:
    """One-line error unless heatmaps are (B, K, H, W) and tags (B, K, D, H, W) with the same B, K, H, W."""
    if len(heat_shape) != 4 or heat_shape[1] != num_joints:
        raise AegroupError(f"heatmaps: expected (B, {num_joints}, H, W), got {tuple(heat_shape)}")
    if len(tag_shape) != 5 or tag_shape[:2] != heat_shape[:2] or tag_shape[3:] != heat_shape[2:]:
        raise AegroupError(f"tags: expected (B, K, D, H, W) matching heatmaps, got {tuple(tag_shape)}")


def batch_candidates_numpy(
    heatmaps: np.ndarray, tags: np.ndarray, num_joints: int, config: DecodeConfig
) -> tuple[list[Candidates], np.ndarray, np.ndarray]:
    """Per-image `Candidates` of a numpy batch in model layout, plus the maps (B, K, H, W), (B, K, H, W, D).

    `heatmaps` (B, K, H, W), `tags` (B, K, D, H, W) or (B, K, H, W) for D = 1: what an ONNX Runtime session
    returns. The torch-free twin of `torch_candidates.batch_candidates`, with the same candidates.
    """
    heat = to_numpy(heatmaps, "heatmaps")
    tag = to_numpy(tags, "tags")
    if tag.ndim == 4:
        tag = tag[:, :, None]
    check_batch_shapes(heat.shape, tag.shape, num_joints)
    # (B, K, D, H, W) -> (B, K, H, W, D), the per-image layout of `extract_candidates` and `refine`.
    tag = np.ascontiguousarray(tag.transpose(0, 1, 3, 4, 2))
    maps = [check_maps(h, t, num_joints) for h, t in zip(heat, tag, strict=True)]
    return [extract_candidates(h, t, config) for h, t in maps], heat, tag


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise a one-line error when an input array holds NaN or infinite values."""
    # One pass without a boolean temporary: a NaN or +-inf entry makes the sum of squares NaN or inf. Huge
    # finite values can overflow it too, so the exact count decides.
    flat = array.reshape(-1)
    with np.errstate(over="ignore"):
        square_sum = np.dot(flat, flat) if flat.size else 0.0
    if not np.isfinite(square_sum):
        bad = int(flat.size - np.count_nonzero(np.isfinite(flat)))
        if bad:
            raise AegroupError(f"{name}: {bad} NaN or infinite values (check the model output)")


def peak_indices(heat: np.ndarray, kernel: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices into (K, H, W), ascending, and values of local maxima (max-pool NMS) above `threshold`.

    Equivalent to `heat == max_pool(heat, kernel, stride 1, padding kernel // 2)`; ties (plateaus) all count.
    The comparison with `threshold` is in float32, as numpy compares a float32 array with a Python float.
    """
    from aegroup.decode.kernels import nms_peaks  # numba: loaded on first decode

    return nms_peaks(np.ascontiguousarray(heat, np.float32), kernel // 2, np.float32(threshold))


def quarter_shift(heat: np.ndarray, k: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(n, 2) x, y moved a quarter pixel toward the higher neighbour on each axis (reference `adjust`)."""
    _, h, w = heat.shape
    right = heat[k, y, np.minimum(x + 1, w - 1)] > heat[k, y, np.maximum(x - 1, 0)]
    down = heat[k, np.minimum(y + 1, h - 1), x] > heat[k, np.maximum(y - 1, 0), x]
    out = np.empty((len(k), 2), np.float32)
    out[:, 0] = x + np.where(right, 0.25, -0.25)
    out[:, 1] = y + np.where(down, 0.25, -0.25)
    return out


def extract_candidates(heat: np.ndarray, tags: np.ndarray, config: DecodeConfig) -> Candidates:
    """The top `max_instances` NMS peaks per joint above `detection_threshold`; highest first, ties by raster.

    `heat` (K, H, W) and `tags` (K, H, W, D) must already be checked by `check_maps`.
    """
    k, h, w = heat.shape
    flat, values = peak_indices(heat, config.nms_kernel, config.detection_threshold)
    joint = flat // (h * w)
    # Stable: equal scores keep raster order (flat indices come sorted).
    order = np.lexsort((-values, joint))
    flat, values, joint = flat[order], values[order], joint[order]
    yy, xx = np.divmod(flat - joint * (h * w), w)
    keep, slot = select_peaks(joint, values, yy, xx, config)
    flat, values, joint, slot, yy, xx = flat[keep], values[keep], joint[keep], slot[keep], yy[keep], xx[keep]
    out = Candidates.empty(k, config.max_instances, tags.shape[-1])
    if config.adjust:
        out.xy[joint, slot] = quarter_shift(heat, joint, yy, xx)
    else:
        out.xy[joint, slot] = np.stack([xx, yy], axis=1)
    out.score[joint, slot] = values
    out.tag[joint, slot] = tags.reshape(k * h * w, -1)[flat]
    return out


def select_peaks(
    joint: np.ndarray, values: np.ndarray, y: np.ndarray, x: np.ndarray, config: DecodeConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, slot) of peaks sorted by (joint, score desc, raster): plateau twins out, top-k per joint.

    A flat-topped peak (two equal maxima within one NMS window, as fp16 outputs or pooled discs produce)
    passes the max-pool test twice; only its first pixel in raster order is kept, so it yields one
    candidate. Equal peaks farther apart stay separate candidates.
    """
    keep = values > config.detection_threshold
    twin = np.flatnonzero((joint[1:] == joint[:-1]) & (values[1:] == values[:-1]) & keep[1:])
    if twin.size:  # rare: a short Python pass over the runs of equal scores
        reach = config.nms_kernel // 2
        run_start = twin[np.r_[True, twin[1:] != twin[:-1] + 1]]
        for start in run_start.tolist():
            end = start + 1
            while end < len(values) and joint[end] == joint[start] and values[end] == values[start]:
                end += 1
            kept: list[int] = []
            for i in range(start, end):
                if any(abs(y[i] - y[j]) <= reach and abs(x[i] - x[j]) <= reach for j in kept):
                    keep[i] = False
                elif keep[i]:
                    kept.append(i)
    counts = np.bincount(joint[keep], minlength=int(joint.max()) + 1 if joint.size else 0)
    slot = np.zeros(len(values), np.int64)
    slot[keep] = np.arange(int(keep.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    keep &= slot < config.max_instances
    return keep, slot

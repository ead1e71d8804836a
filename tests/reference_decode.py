"""The reference decoder the tests hold `aegroup.decode` to: the same algorithm written the obvious way.

One joint, one candidate, one instance at a time, as the reference implementations do, in plain Python
loops; its groupings must equal the vectorised decoder's exactly. `make_scene` draws network-like maps of
a crowded scene. `benchmarks/bench_decode.py` times `aegroup.decode.group` against `loop_decode`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter
from scipy.optimize import linear_sum_assignment

from aegroup.data.targets import render_heatmaps
from aegroup.decode import DecodeConfig

K, N, SIZE = 17, 30, 128


def make_scene(rng: np.random.Generator, dim: int, missing: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Network-like maps: (K, H, W) Gaussians plus faint noise, (K, H, W, D) noisy per-instance tags."""
    centres = rng.uniform(12, SIZE - 12, (N, 1, 2))
    kp = np.concatenate([centres + rng.normal(0, 6, (N, K, 2)), np.full((N, K, 1), 2.0)], axis=2)
    kp[rng.random((N, K)) < missing, 2] = 0
    heat = render_heatmaps(kp, SIZE, SIZE, sigma=2.0) * rng.uniform(0.5, 1.0)
    heat += rng.uniform(0, 0.02, heat.shape).astype(np.float32)
    inst_tags = separated_tags(rng, dim)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    tags = np.empty((K, SIZE, SIZE, dim), np.float32)
    for k in range(K):
        # Every pixel carries the tag of the nearest instance's joint k, plus noise (a Voronoi tag map).
        d2 = (xx[None] - kp[:, k, 0, None, None]) ** 2 + (yy[None] - kp[:, k, 1, None, None]) ** 2
        tags[k] = inst_tags[d2.argmin(axis=0)] + rng.normal(0, 0.1, (SIZE, SIZE, dim))
    return heat.astype(np.float32), tags


def separated_tags(rng: np.random.Generator, dim: int, gap: float = 1.5) -> np.ndarray:
    """(N, D) instance tags at least `gap` apart, as a trained network's push loss leaves them."""
    tags: list[np.ndarray] = []
    while len(tags) < N:
        t = rng.uniform(0, gap * N ** (1 / dim) * 1.5, dim)
        if all(np.linalg.norm(t - o) >= gap for o in tags):
            tags.append(t)
    return np.array(tags)


def loop_candidates(heat: np.ndarray, tags: np.ndarray, cfg: DecodeConfig) -> list[list[tuple]]:
    """Per joint: (x, y, score, tag) of the top peaks above the threshold, one joint at a time."""
    out = []
    for k in range(heat.shape[0]):
        plane = heat[k]
        pooled = maximum_filter(plane, size=cfg.nms_kernel, mode="constant", cval=-np.inf)
        ys, xs = np.nonzero((plane == pooled) & (plane > cfg.detection_threshold))
        found = sorted(
            ((float(plane[y, x]), int(y), int(x)) for y, x in zip(ys, xs, strict=True)),
            key=lambda c: -c[0],
        )
        kept: list[tuple[float, int, int]] = []
        for value, y, x in found:
            # A plateau (equal maxima within one window) is one peak: keep its first pixel in raster order.
            reach = cfg.nms_kernel // 2
            if not any(v == value and abs(y - b) <= reach and abs(x - a) <= reach for v, b, a in kept):
                kept.append((value, y, x))
        joints = []
        for value, y, x in kept[: cfg.max_instances]:
            px, py = float(x), float(y)
            if cfg.adjust:
                px += 0.25 if plane[y, min(x + 1, plane.shape[1] - 1)] > plane[y, max(x - 1, 0)] else -0.25
                py += 0.25 if plane[min(y + 1, plane.shape[0] - 1), x] > plane[max(y - 1, 0), x] else -0.25
            joints.append((px, py, value, tags[k, y, x]))
        out.append(joints)
    return out


def loop_group(cands: list[list[tuple]], order: list[int], cfg: DecodeConfig, method: str) -> list[dict]:
    """Instances as dicts {joint: candidate}, visiting joints in `order`, one candidate at a time."""
    people: list[dict] = []
    for k in order:
        joints = cands[k]
        if not joints:
            continue
        if not people:
            people.extend({k: j} for j in joints)
            continue
        grouped = people[: cfg.max_instances]
        if cfg.ignore_too_much and len(grouped) == cfg.max_instances:
            continue
        means = [np.mean([np.asarray(j[3], np.float64) for j in p.values()], axis=0) for p in grouped]
        dist = np.array([[np.linalg.norm(j[3] - m) for m in means] for j in joints])
        pairs = (
            _loop_hungarian(dist, joints, cfg) if method == "hungarian" else _loop_greedy(dist, joints, cfg)
        )
        matched = set()
        for row, col in pairs:
            if dist[row, col] < cfg.tag_threshold:
                grouped[col][k] = joints[row]
                matched.add(row)
        people.extend({k: joints[row]} for row in range(len(joints)) if row not in matched)
    return people


def _loop_hungarian(dist: np.ndarray, joints: list[tuple], cfg: DecodeConfig) -> list[tuple[int, int]]:
    """The reference cost, padded with 1e10 columns when there are more candidates than instances."""
    cost = dist.copy()
    if cfg.use_detection_val:
        cost = np.round(cost) * 100 - np.array([j[2] for j in joints], np.float64)[:, None]
    if cfg.gate_by_threshold:
        for r in range(cost.shape[0]):
            for c in range(cost.shape[1]):
                if dist[r, c] >= cfg.tag_threshold:
                    cost[r, c] = 1e10
    rows, cols = cost.shape
    if rows > cols:
        cost = np.concatenate([cost, np.full((rows, rows - cols), 1e10)], axis=1)
    r, c = linear_sum_assignment(cost)
    return [(i, j) for i, j in zip(r, c, strict=True) if j < cols]


def _loop_greedy(dist: np.ndarray, joints: list[tuple], cfg: DecodeConfig) -> list[tuple[int, int]]:
    """Strongest candidate first takes the nearest free instance, if it is within the threshold."""
    taken: set[int] = set()
    pairs = []
    for row in sorted(range(len(joints)), key=lambda r: -joints[r][2]):
        free = [c for c in range(dist.shape[1]) if c not in taken]
        if free:
            col = min(free, key=lambda c: dist[row, c])
            if dist[row, col] < cfg.tag_threshold:
                pairs.append((row, col))
                taken.add(col)
    return pairs


def loop_decode(
    heat: np.ndarray, tags: np.ndarray, order: list[int], cfg: DecodeConfig, method: str
) -> list[np.ndarray]:
    """(K, 3) keypoints per instance, highest score first: candidates, grouping, refinement per instance."""
    people = loop_group(loop_candidates(heat, tags, cfg), order, cfg, method)
    out = []
    for person in people:
        kp = np.zeros((heat.shape[0], 3), np.float32)
        for k, (x, y, value, _) in person.items():
            kp[k] = (x, y, value)
        score = float(kp[:, 2].mean())
        if cfg.refine:
            mean = np.mean([np.asarray(j[3], np.float64) for j in person.values()], axis=0).astype(np.float32)
            for k in range(heat.shape[0]):
                if k not in person:
                    _loop_refine_joint(heat[k], tags[k], mean, kp[k], cfg.adjust)
        out.append((score, kp))
    out.sort(key=lambda s: -s[0])  # stable: ties keep creation order
    return [kp for _, kp in out]


def _loop_refine_joint(
    plane: np.ndarray, tag: np.ndarray, mean: np.ndarray, kp: np.ndarray, adjust: bool
) -> None:
    """Fill one missing joint of one instance: argmax of heatmap minus rounded tag distance."""
    if tag.shape[-1] == 1:
        dist = np.abs(tag[..., 0] - mean[0])
    else:
        dist = np.sqrt(sum((tag[..., d] - mean[d]) ** 2 for d in range(tag.shape[-1])))
    y, x = np.unravel_index(np.argmax(plane - np.rint(dist)), plane.shape)
    if plane[y, x] <= 0:
        return
    px, py = float(x), float(y)
    if adjust:
        px += 0.25 if plane[y, min(x + 1, plane.shape[1] - 1)] > plane[y, max(x - 1, 0)] else -0.25
        py += 0.25 if plane[min(y + 1, plane.shape[0] - 1), x] > plane[max(y - 1, 0), x] else -0.25
    kp[:] = (px, py, plane[y, x])

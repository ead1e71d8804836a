"""A realistic results file from ground truth without a network: noisy tags, some grouping mistakes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.io.atomic import atomic_write_json
from aegroup.io.coco import read_coco_json
from aegroup.schema import PoseSchema, load_schema


def noisy_results(
    coco: dict[str, Any],
    schema: PoseSchema,
    tag_dim: int = 1,
    noise: float = 0.12,
    swap_prob: float = 0.03,
    refine_prob: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """A results-file dict (`aegroup.io.results`) that looks like `aegroup predict` output for `coco`.

    Instance i of an image gets tags near a random centre; each joint's tag is that centre plus Gaussian
    noise. With `swap_prob` a joint is exchanged with the same joint of another instance (a grouping
    mistake: its tag stays near its true instance, so the uncertainty score should flag it). With
    `refine_prob` a joint is left out of the stored candidates, as if refinement had filled it in.
    """
    rng = np.random.default_rng(seed)
    k = schema.num_joints
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    annotations: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    for image in coco["images"]:
        gt = by_image.get(int(image["id"]), [])
        if not gt:
            continue
        kps = np.array([a["keypoints"] for a in gt], np.float64).reshape(len(gt), k, 3)
        present = kps[:, :, 2] > 0
        centres = rng.uniform(-3, 3, (len(gt), tag_dim)) + np.arange(len(gt))[:, None] * 2.0
        tags = centres[:, None, :] + rng.normal(0, noise, (len(gt), k, tag_dim))
        scores = np.clip(rng.beta(5, 1.5, (len(gt), k)), 0.05, 1.0)
        xy = kps[:, :, :2] + rng.normal(0, 0.7, (len(gt), k, 2))
        _swap_some(rng, xy, tags, scores, present, swap_prob)
        in_candidates = present & (rng.random(present.shape) >= refine_prob)
        for r in range(len(gt)):
            flat = np.concatenate([xy[r], np.where(present[r], scores[r], 0.0)[:, None]], axis=1)
            flat[~present[r]] = 0.0
            annotations.append(
                {
                    "image_id": int(image["id"]),
                    "category_id": 1,
                    "keypoints": flat.reshape(-1).round(2).tolist(),
                    "score": float(scores[r][present[r]].mean()) if present[r].any() else 0.0,
                    "tags": tags[r].round(4).tolist(),
                }
            )
        rows, joints = np.nonzero(in_candidates)
        candidates.append(
            {
                "image_id": int(image["id"]),
                "joint": joints.tolist(),
                "xy": xy[rows, joints].round(2).tolist(),
                "score": scores[rows, joints].round(4).tolist(),
                "tag": tags[rows, joints].round(4).tolist(),
            }
        )
    return {
        "format": "aegroup-results",
        "version": 1,
        "schema": schema.model_dump(),
        "images": [{key: im[key] for key in ("id", "file_name", "width", "height")} for im in coco["images"]],
        "annotations": annotations,
        "candidates": candidates,
    }


def _swap_some(
    rng: np.random.Generator,
    xy: np.ndarray,
    tags: np.ndarray,
    scores: np.ndarray,
    present: np.ndarray,
    prob: float,
) -> None:
    """Exchange a few joints between instances in place (locations move; each keeps its own tag)."""
    n = present.shape[0]
    if n < 2:
        return
    for r, j in zip(*np.nonzero(present & (rng.random(present.shape) < prob)), strict=True):
        other = int(rng.choice([i for i in range(n) if i != r]))
        if present[other, j]:
            for arr in (xy, tags, scores):
                arr[[r, other], j] = arr[[other, r], j]


def random_coco(
    schema: PoseSchema,
    n_images: int,
    n_instances: int,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    file_names: list[str] | None = None,
) -> dict[str, Any]:
    """A COCO keypoints dict of random poses (no pixels): for tests and benchmarks at any scale.

    Each instance is a blob of joints around a random centre; ~10% of joints are absent and ~10% occluded.
    `file_names` (cycled) lets many images share a few real image files.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    k = schema.num_joints
    images, annotations = [], []
    for i in range(1, n_images + 1):
        name = file_names[(i - 1) % len(file_names)] if file_names else f"image_{i:05d}.png"
        images.append({"id": i, "file_name": name, "width": width, "height": height})
        centres = rng.uniform((0.1 * width, 0.1 * height), (0.9 * width, 0.9 * height), (n_instances, 2))
        spread = rng.uniform(0.03, 0.08) * min(width, height)
        xy = centres[:, None, :] + rng.normal(0, spread, (n_instances, k, 2))
        xy = np.clip(xy, 0, (width - 1, height - 1))
        v = rng.choice([0, 1, 2], size=(n_instances, k), p=[0.1, 0.1, 0.8])
        for r in range(n_instances):
            flat = np.concatenate([xy[r], v[r, :, None]], axis=1)
            flat[v[r] == 0] = 0
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "keypoints": [round(float(x), 2) for x in flat.reshape(-1)],
                    "num_keypoints": int((v[r] > 0).sum()),
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": [schema.to_coco_category(1)]}


def main(argv: list[str] | None = None) -> None:
    """`python -m aegroup_gui.demo GT.json RESULTS.json`: noisy results, to try the labeller."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("annotations", type=Path, help="COCO keypoints file (e.g. from `aegroup synth`)")
    parser.add_argument("out", type=Path, help="results file to write")
    parser.add_argument("--schema", default=None, help="schema name or file (default: from the file)")
    parser.add_argument("--tag-dim", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    coco = read_coco_json(args.annotations)
    if args.schema:
        schema = load_schema(args.schema)
    else:
        schema = PoseSchema.from_coco_category(next(c for c in coco["categories"] if c.get("keypoints")))
    results = noisy_results(coco, schema, tag_dim=args.tag_dim, seed=args.seed)
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}: {len(results['annotations'])} instances in {len(results['images'])} images")


if __name__ == "__main__":
    main()

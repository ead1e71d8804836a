"""Perfect inputs decode perfectly: heatmaps rendered from ground truth, tags = instance index -> AP 1.0.

Each image's annotations are mapped into a heatmap frame (scaled so instances are well separated), rendered
with DATA's `render_heatmaps`, decoded by each grouper, mapped back through an affine with `to_image`, and
scored by pycocotools' COCOeval with the schema's OKS sigmas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aegroup.data.targets import render_heatmaps
from aegroup.decode import GROUPERS, DecodeConfig, group, to_image
from aegroup.eval import evaluate
from aegroup.io.coco import load_coco
from aegroup.io.results import instances_to_annotations
from aegroup.schema import PoseSchema, load_schema

HEATMAP_SIDE = 192
"""Longest side of the heatmap frame each image's instances are mapped into."""


def perfect_maps(
    keypoints: np.ndarray, height: int, width: int, sigma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(K, H, W) ground-truth heatmaps and (K, H, W, 1) tags: every pixel holds the index of the instance
    whose labelled joint of that type is nearest (tags equal the instance index at every joint)."""
    heat = render_heatmaps(keypoints, height, width, sigma=sigma)
    k = keypoints.shape[1]
    tags = np.zeros((k, height, width, 1), np.float32)
    yy, xx = np.mgrid[:height, :width]
    for j in range(k):
        owners = np.flatnonzero(keypoints[:, j, 2] > 0)
        if owners.size == 0:
            continue
        d2 = (xx[None] - keypoints[owners, j, 0, None, None]) ** 2 + (
            yy[None] - keypoints[owners, j, 1, None, None]
        ) ** 2
        tags[j, :, :, 0] = owners[d2.argmin(axis=0)]
    return heat, tags


def decode_ground_truth(ann_file: Path, schema: PoseSchema, method: str, config: DecodeConfig) -> list[dict]:
    """COCO results from decoding every image's perfect maps."""
    gt = load_coco(ann_file, schema)
    results = []
    for image_id in gt.image_ids:
        keypoints, crowd = gt.keypoints(image_id)
        keypoints = keypoints[~crowd & (keypoints[:, :, 2] > 0).any(axis=1)]
        if len(keypoints) == 0:
            continue
        labelled = keypoints[keypoints[:, :, 2] > 0][:, :2]
        origin = labelled.min(axis=0) - 8
        scale = HEATMAP_SIDE / max(float(np.ptp(labelled, axis=0).max()) + 16, 1.0)
        frame = keypoints.copy()
        frame[:, :, :2] = (keypoints[:, :, :2] - origin) * scale
        height, width = (np.ceil((np.ptp(labelled, axis=0)[::-1] + 16) * scale) + 1).astype(int)
        heat, tags = perfect_maps(frame, int(height), int(width))
        instances = group(heat, tags, schema, method, config)
        back = np.array([[1 / scale, 0, origin[0]], [0, 1 / scale, origin[1]]])
        results += instances_to_annotations(image_id, to_image(instances, back, stride=1.0))
    return results


@pytest.fixture(scope="module")
def coco17_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic images of the built-in coco17 skeleton (annotations are what matter here)."""
    from aegroup.synth import synthesize

    return synthesize(
        load_schema("coco17"),
        tmp_path_factory.mktemp("coco17"),
        n_images=4,
        max_instances=5,
        size=(160, 160),
        seed=3,
    )


@pytest.mark.parametrize("method", sorted(GROUPERS))
def test_perfect_synthetic_custom_schema_reaches_ap_1(synth_set, method: str) -> None:
    ann, _, schema = synth_set
    results = decode_ground_truth(ann, schema, method, DecodeConfig())
    metrics = evaluate(ann, results, schema)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AR"] == pytest.approx(1.0)


@pytest.mark.parametrize("method", sorted(GROUPERS))
def test_perfect_synthetic_builtin_schema_reaches_ap_1(coco17_synth: Path, method: str) -> None:
    schema = load_schema("coco17")
    results = decode_ground_truth(coco17_synth, schema, method, DecodeConfig(refine=False))
    assert evaluate(coco17_synth, results, schema)["AP"] == pytest.approx(1.0)


@pytest.mark.parametrize("method", sorted(GROUPERS))
def test_perfect_real_sets_reach_ap_1(real_set, method: str) -> None:
    ann, _, schema_name = real_set
    schema = load_schema(schema_name)
    results = decode_ground_truth(ann, schema, method, DecodeConfig())
    metrics = evaluate(ann, results, schema)
    assert metrics["AP"] == pytest.approx(1.0), metrics


def test_perfect_custom_group_order_gives_the_same_instances(synth_set) -> None:
    """Grouping order changes the walk, not the answer, when the tags are perfect."""
    ann, _, schema = synth_set
    reversed_order = schema.model_copy(update={"group_order": list(reversed(schema.joints))})
    a = decode_ground_truth(ann, schema, "hungarian", DecodeConfig())
    b = decode_ground_truth(ann, reversed_order, "hungarian", DecodeConfig())
    key = lambda r: (r["image_id"], r["keypoints"])  # noqa: E731
    assert sorted(map(key, a)) == sorted(map(key, b))

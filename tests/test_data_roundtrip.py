"""Targets -> perfect tags -> decode -> image pixels reproduces the annotations (data/decode frames agree)."""

from __future__ import annotations

import numpy as np

from aegroup.data import CocoPoseDataset
from aegroup.decode import group
from aegroup.decode.api import to_image
from aegroup.eval import evaluate
from aegroup.io.results import instances_to_annotations


def perfect_tags(joints: np.ndarray, num_joints: int, size: int) -> np.ndarray:
    """(K, H, W, 1) tag maps holding 3 * (instance row + 1) at every labelled joint pixel."""
    tags = np.zeros(num_joints * size * size, dtype=np.float32)
    for row, inst in enumerate(joints):
        visible = inst[:, 1] > 0
        tags[inst[visible, 0]] = 3.0 * (row + 1)
    return tags.reshape(num_joints, size, size, 1)


def test_perfect_maps_decode_to_the_ground_truth(synth_set) -> None:
    ann, images, schema = synth_set
    ds = CocoPoseDataset(ann, images, schema, train=False, input_size=128, max_instances=6)
    results = []
    for index in range(len(ds)):
        item = ds[index]
        heat = item["heatmaps"].numpy()
        tags = perfect_tags(item["joints"].numpy(), schema.num_joints, ds.output_size)
        instances = group(heat, tags, schema, "hungarian")
        mapped = to_image(instances, item["meta"]["inverse"], ds.output_stride)
        results += instances_to_annotations(item["meta"]["image_id"], mapped)
    metrics = evaluate(ann, results, schema)
    assert metrics["AP"] > 0.97, metrics

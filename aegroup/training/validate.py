"""Validation during training: decode the val set on every rank, gather the results, COCO AP on rank 0."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader

from aegroup.decode import DecodeConfig, decode_batch, to_image
from aegroup.eval import evaluate
from aegroup.io.results import instances_to_annotations
from aegroup.schema import PoseSchema
from aegroup.training.distributed import DistEnv, broadcast_object, gather_objects

METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR")


@torch.no_grad()
def predict_annotations(
    model: torch.nn.Module,
    loader: DataLoader,
    schema: PoseSchema,
    method: str,
    decode: DecodeConfig,
    device: torch.device,
    autocast: dict[str, Any],
    stride: int,
) -> list[dict[str, Any]]:
    """COCO result dicts (image pixels) for every image the loader yields, from the last stack's output."""
    model.eval()
    annotations: list[dict[str, Any]] = []
    for batch in loader:
        with torch.autocast(**autocast):
            output = model(batch["image"].to(device, non_blocking=True))
        heatmaps, tags = output.heatmaps[-1].float(), output.tags[-1].float()
        per_image = decode_batch(heatmaps, tags, schema, method, decode)
        for meta, instances in zip(batch["meta"], per_image, strict=True):
            mapped = to_image(instances, meta["inverse"], stride)
            annotations.extend(instances_to_annotations(int(meta["image_id"]), mapped))
    return annotations


def validate(
    model: torch.nn.Module,
    loader: DataLoader,
    ground_truth: dict[str, Any],
    schema: PoseSchema,
    method: str,
    decode: DecodeConfig,
    env: DistEnv,
    device: torch.device,
    autocast: dict[str, Any],
    stride: int,
) -> dict[str, float]:
    """COCO keypoint AP of the model on the val set against `ground_truth` (a COCO dict of its frames);
    every rank decodes its share and gets the metrics."""
    local = predict_annotations(model, loader, schema, method, decode, device, autocast, stride)
    gathered = gather_objects(local, env)
    metrics: dict[str, float] = {}
    if env.is_main:
        results = [ann for part in gathered for ann in part]
        scores = evaluate(ground_truth, results, schema)
        metrics = {key: float(scores[key]) for key in METRICS if key in scores}
    return broadcast_object(metrics, env)

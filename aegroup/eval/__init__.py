"""Evaluation: COCO keypoint AP through pycocotools' COCOeval with the schema's OKS sigmas."""

from aegroup.eval.coco_eval import METRICS, evaluate, format_table

__all__ = ["METRICS", "evaluate", "format_table"]

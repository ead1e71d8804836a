"""Evaluation: COCO keypoint AP through pycocotools' COCOeval with the schema's OKS sigmas, and joint errors
in pixels of the instances matched by OKS."""

from aegroup.eval.coco_eval import METRICS, evaluate, format_table
from aegroup.eval.distances import JointDistances, joint_distances

__all__ = ["METRICS", "JointDistances", "evaluate", "format_table", "joint_distances"]

"""Re-group one image from its stored candidates with any grouper and tag threshold (no network)."""

from __future__ import annotations

from aegroup.decode import DecodeConfig, group_candidates
from aegroup.io.results import instances_to_annotations, record_to_candidates
from aegroup.schema import PoseSchema
from aegroup_gui.model.convert import annotations_from_results, candidate_record
from aegroup_gui.model.document import Annotations, ImageRecord


def regroup_image(
    image: ImageRecord, schema: PoseSchema, tag_dim: int, method: str, tag_threshold: float
) -> Annotations:
    """Fresh annotations for `image` from its candidates, grouped by `method` at `tag_threshold`."""
    record = candidate_record(image)
    candidates = record_to_candidates(record, schema.num_joints, tag_dim or None)
    config = DecodeConfig(tag_threshold=tag_threshold)
    instances = group_candidates(candidates, schema, method, config)
    found = instances_to_annotations(image.id, instances)
    return annotations_from_results(found, schema, tag_dim, record, max(image.width, image.height))

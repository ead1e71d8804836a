"""How doubtful a grouping is, for the document's annotations (computed by `aegroup.decode.doubt`)."""

from __future__ import annotations

import numpy as np

from aegroup.decode import doubt
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup_gui.model.document import Annotations


def keypoint_doubt(ann: Annotations) -> np.ndarray:
    """(N, K) doubt in [0, 1] of every keypoint (see `aegroup.decode.doubt`); nan when undefined."""
    return doubt.keypoint_doubt(ann.present(), ann.tags)


def image_uncertainty(ann: Annotations) -> float:
    """How much of an image is probably wrong (`aegroup.decode.doubt.image_doubt`), over the instances no
    person has checked; the image list's doubt column and the loop benchmark's `doubt` ranking."""
    present = ann.present()
    keypoints = np.dstack([ann.keypoints[:, :, :2], np.nan_to_num(ann.scores, nan=0.0) * present])
    return doubt.image_doubt(
        keypoints,
        ann.tags,
        ann.origin == JointOrigin.REFINED,
        np.nan_to_num(ann.instance_score, nan=0.0),
        checked=ann.status != InstanceStatus.PREDICTED,
    )

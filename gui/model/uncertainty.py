"""How doubtful a grouping is, for the document's annotations (computed by `aegroup.decode.doubt`)."""

from __future__ import annotations

import numpy as np

from aegroup.decode import doubt
from aegroup_gui.model.document import Annotations


def keypoint_doubt(ann: Annotations) -> np.ndarray:
    """(N, K) doubt in [0, 1] of every keypoint (see `aegroup.decode.doubt`); nan when undefined."""
    return doubt.keypoint_doubt(ann.present(), ann.tags)


def image_uncertainty(ann: Annotations) -> float:
    """The largest keypoint doubt of an image (nan when no tags or fewer than two instances)."""
    return doubt.tag_doubt(ann.present(), ann.tags)

"""A simulated person correcting an image of a labelling project to the true labels, for the loop benchmark.

The person matches each true instance to a predicted one (by OKS), accepts a predicted joint that lies
close to the truth (its joint similarity, the OKS term, reaches `accept`) and leaves it as it is, moves
any other joint to the truth, places joints the prediction missed, deletes joints and instances the truth
does not have, draws the instances the prediction missed, and marks the image reviewed. Status and joint
origins record this as the labeller does (`aegroup.io.provenance`).
"""

from __future__ import annotations

import numpy as np

from aegroup.eval.oks import match, oks_matrix, truth_areas
from aegroup.io.project import ProjectImage, ProjectInstances
from aegroup.io.provenance import InstanceStatus, JointOrigin

FIELDS = ("ids", "status", "instance_score", "keypoints", "scores", "tags", "origin")
"""The instance arrays of a project image, by `ProjectInstances` field name."""


def correct_image(
    image: ProjectImage, truth: np.ndarray, sigmas: np.ndarray, accept: float = 0.9
) -> ProjectImage:
    """The image as the simulated person leaves it (module docstring); `truth` (M, K, 3) x, y, v."""
    inst = image.instances
    old = {name: np.asarray(getattr(inst, name)) for name in FIELDS}
    present = old["keypoints"][:, :, 2] > 0
    areas = truth_areas(truth)
    pred = np.dstack([old["keypoints"][:, :, :2], present.astype(np.float64)])
    rows, cols = match(oks_matrix(pred, truth, sigmas, areas))
    new = {name: old[name][rows].copy() for name in FIELDS}
    k, d = present.shape[1], old["tags"].shape[2]
    for i, (row, col) in enumerate(zip(rows, cols, strict=True)):
        _correct_instance(
            new, i, present[row], truth[col], _similarity(pred[row], truth[col], sigmas, areas[col]), accept
        )
    missed = np.setdiff1d(np.arange(truth.shape[0]), cols)
    next_id = int(old["ids"].max(initial=0)) + 1
    added = {
        "ids": np.arange(next_id, next_id + missed.size, dtype=np.int64),
        "status": np.full(missed.size, InstanceStatus.ADDED, np.int8),
        "instance_score": np.full(missed.size, np.nan),
        "keypoints": truth[missed].astype(np.float64),
        "scores": np.full((missed.size, k), np.nan),
        "tags": np.full((missed.size, k, d), np.nan),
        "origin": np.where(truth[missed][:, :, 2] > 0, JointOrigin.ADDED, JointOrigin.PREDICTED).astype(
            np.int8
        ),
    }
    arrays = {name: np.concatenate([new[name], added[name]]) for name in FIELDS}
    instances = ProjectInstances(**{("score" if n == "instance_score" else n): a for n, a in arrays.items()})
    return image.model_copy(update={"instances": instances, "reviewed": True})


def _similarity(pred: np.ndarray, truth: np.ndarray, sigmas: np.ndarray, area: float) -> np.ndarray:
    """(K,) the OKS term of each joint of one prediction against one truth (0 where either lacks it)."""
    d2 = ((pred[:, :2] - truth[:, :2]) ** 2).sum(axis=1)
    e = d2 / (2 * np.asarray(sigmas, np.float64)) ** 2 / (area + np.spacing(1)) / 2
    return np.where((pred[:, 2] > 0) & (truth[:, 2] > 0), np.exp(-e), 0.0)


def _correct_instance(
    arrays: dict[str, np.ndarray],
    i: int,
    present: np.ndarray,
    truth: np.ndarray,
    similarity: np.ndarray,
    accept: float,
) -> None:
    """Correct row `i` of `arrays` (a matched prediction) to one true instance, in place."""
    labelled = truth[:, 2] > 0
    kept = labelled & present & (similarity >= accept)
    moved = labelled & ~kept
    dropped = ~labelled & present
    changed = moved | dropped
    keypoints = arrays["keypoints"][i]
    keypoints[moved] = truth[moved]
    keypoints[dropped] = 0.0
    # Setting an accepted joint's visibility to the truth's (occluded) is a person's change too.
    relabelled = kept & (keypoints[:, 2] != truth[:, 2])
    keypoints[kept, 2] = truth[kept, 2]
    arrays["scores"][i][changed] = np.nan
    arrays["tags"][i][changed] = np.nan
    origin = arrays["origin"][i]
    origin[moved & present] = JointOrigin.CORRECTED
    origin[moved & ~present] = JointOrigin.ADDED
    origin[dropped] = JointOrigin.PREDICTED
    origin[relabelled] = JointOrigin.CORRECTED
    arrays["status"][i] = InstanceStatus.CORRECTED

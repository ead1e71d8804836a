"""Object keypoint similarity (OKS) between predicted and true instances of one image, as COCOeval computes
it, and the one-to-one matching of predictions to truths by it."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def truth_areas(truth: np.ndarray) -> np.ndarray:
    """(M,) area of the box around each true instance's labelled joints (what `aegroup export` writes)."""
    areas = np.zeros(truth.shape[0])
    for m, inst in enumerate(truth):
        labelled = inst[inst[:, 2] > 0, :2]
        if labelled.size:
            width, height = labelled.max(axis=0) - labelled.min(axis=0)
            areas[m] = width * height
    return areas


def oks_matrix(pred: np.ndarray, truth: np.ndarray, sigmas: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """(N, M) OKS of each prediction against each true instance, over the truth's labelled joints.

    `pred` (N, K, 3) x, y, score (score 0 = absent; an absent joint is far from everything), `truth`
    (M, K, 3) x, y, v, `sigmas` (K,), `areas` (M,) the truths' areas. As COCOeval: exp(-d^2 / (2 area
    (2 sigma)^2)) averaged over the truth's joints with v > 0; 0 for a truth without labelled joints.
    """
    labelled = truth[:, :, 2] > 0  # (M, K)
    found = pred[:, :, 2] > 0  # (N, K)
    d2 = ((pred[:, None, :, :2] - truth[None, :, :, :2]) ** 2).sum(axis=-1)  # (N, M, K)
    variance = (2 * np.asarray(sigmas, np.float64)) ** 2
    e = d2 / variance / (np.asarray(areas, np.float64)[None, :, None] + np.spacing(1)) / 2
    similarity = np.where(found[:, None, :] & labelled[None], np.exp(-e), 0.0)
    count = labelled.sum(axis=1)
    return np.where(count > 0, similarity.sum(axis=2) / np.maximum(count, 1), 0.0)


def match(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the one-to-one matching that maximises the summed similarity (pairs with 0 dropped)."""
    if similarity.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols = linear_sum_assignment(-similarity)
    keep = similarity[rows, cols] > 0
    return rows[keep], cols[keep]


def image_oks(pred: np.ndarray, truth: np.ndarray, sigmas: np.ndarray) -> float:
    """How well an image's predictions find its true instances: the mean over the truths of the OKS of
    the prediction matched to each (0 for a truth left unmatched); 1 for an image without truths."""
    if truth.shape[0] == 0:
        return 1.0
    similarity = oks_matrix(pred, truth, sigmas, truth_areas(truth))
    rows, cols = match(similarity)
    return float(similarity[rows, cols].sum() / truth.shape[0])

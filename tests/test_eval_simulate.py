"""The simulated person of the loop benchmark (`aegroup.eval.simulate.correct_image`)."""

from __future__ import annotations

import numpy as np

from aegroup.eval.simulate import correct_image
from aegroup.io.export import project_to_coco
from aegroup.io.project import Project, ProjectImage, ProjectInstances
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup.schema import PoseSchema

SCHEMA = PoseSchema(name="four", joints=["a", "b", "c", "d"])
SIGMAS = np.full(4, 0.1)


def _image(keypoints: np.ndarray) -> ProjectImage:
    """An unreviewed image of predicted instances (x, y, v; every present joint detected, score 0.7)."""
    n = keypoints.shape[0]
    present = keypoints[:, :, 2] > 0
    instances = ProjectInstances(
        ids=np.array([4, 9][:n]),
        status=np.zeros(n, np.int8),
        score=np.full(n, 0.6),
        keypoints=keypoints,
        scores=np.where(present, 0.7, np.nan),
        tags=np.where(present[:, :, None], 1.0, np.nan),
        origin=np.zeros((n, 4), np.int8),
    )
    return ProjectImage(id=3, file_name="a.png", width=200, height=200, instances=instances)


def test_the_person_keeps_close_joints_moves_far_ones_and_adds_what_is_missing() -> None:
    truth = np.array(
        [
            [[100, 100, 2], [140, 100, 2], [140, 140, 1], [100, 140, 2]],
            [[20, 20, 2], [40, 20, 2], [0, 0, 0], [20, 40, 2]],
        ],
        np.float64,
    )
    pred = truth[:1].copy()
    pred[0, 0, :2] += 0.5  # close: accepted as it is
    pred[0, 1, :2] += 25  # far: moved to the truth
    pred[0, 2, 2] = 2  # visible where the truth says occluded: the person changes it
    pred[0, 3] = 0  # missed: placed by the person
    spurious = np.array([[[180, 180, 2], [185, 185, 2], [0, 0, 0], [0, 0, 0]]], np.float64)
    image = _image(np.concatenate([pred, spurious]))
    fixed = correct_image(image, truth, SIGMAS, accept=0.9)
    inst = fixed.instances
    assert fixed.reviewed and not image.reviewed
    np.testing.assert_array_equal(inst.ids, [4, 10])  # the spurious instance 9 is deleted, one drawn
    np.testing.assert_array_equal(inst.status, [InstanceStatus.CORRECTED, InstanceStatus.ADDED])
    p, c, a = JointOrigin.PREDICTED, JointOrigin.CORRECTED, JointOrigin.ADDED
    np.testing.assert_array_equal(inst.origin, [[p, c, c, a], [a, a, p, a]])
    np.testing.assert_array_equal(inst.keypoints[0, 0], pred[0, 0])
    np.testing.assert_array_equal(inst.keypoints[0, 1:], truth[0, 1:])
    np.testing.assert_array_equal(inst.keypoints[1], truth[1])
    # Moved and placed joints lose the network's score; a joint only re-labelled occluded keeps it.
    np.testing.assert_array_equal(inst.scores, [[0.7, np.nan, 0.7, np.nan], [np.nan] * 4])
    # Exported, the corrected image holds the truth (but for the accepted joint, where the prediction was).
    project = Project(
        schema=SCHEMA, image_dir=".", tag_dim=1, images=[image.model_copy(update={"id": 1}), fixed]
    )
    coco = project_to_coco(project, only="edited")
    assert [im["id"] for im in coco["images"]] == [3]
    got = np.array([a["keypoints"] for a in coco["annotations"]]).reshape(2, 4, 3)
    np.testing.assert_allclose(got, np.asarray(inst.keypoints), atol=0.01)


def test_an_image_without_predictions_gets_the_truth_drawn() -> None:
    truth = np.array([[[10, 10, 2], [20, 10, 2], [20, 20, 2], [10, 20, 1]]], np.float64)
    fixed = correct_image(_image(np.zeros((0, 4, 3))), truth, SIGMAS)
    np.testing.assert_array_equal(fixed.instances.keypoints, truth)
    np.testing.assert_array_equal(fixed.instances.status, [InstanceStatus.ADDED])
    np.testing.assert_array_equal(fixed.instances.ids, [1])

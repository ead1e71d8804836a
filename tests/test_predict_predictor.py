"""`Predictor`: resize + pad, batching, flip and multi-scale, and the way back to image pixels, on the
oracle network of `oracle_network` (maps read from pixel colours)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle_network import SCHEMA, Oracle, draw
from PIL import Image

from aegroup.predict import Predictor


def scene(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An image with two well-separated instances and their (2, K, 2) joint centres."""
    rng = np.random.default_rng(seed)
    # Joints of one instance sit on a jittered triangle a fifth of the image wide: peaks never merge.
    shape = np.array([[0.0, 0.0], [0.2, 0.03], [0.04, 0.2]]) + rng.uniform(-0.02, 0.02, size=(3, 2))
    anchors = np.array([[0.1, 0.12], [0.62, 0.6]]) + rng.uniform(0, 0.08, size=(2, 2))
    truth = np.round((anchors[:, None] + shape[None]) * [width, height])
    return draw(width, height, truth), truth


def predictor(**options: object) -> Predictor:
    """A predictor around the oracle network (input 128, stride 4)."""
    return Predictor(Oracle(SCHEMA.num_joints), SCHEMA, input_size=128, device="cpu", **options)  # type: ignore[arg-type]


def match(found: list, truth: np.ndarray, tolerance: float) -> None:
    """Every true instance has a predicted one with all joints within `tolerance` image pixels."""
    assert len(found) == len(truth)
    for joints in truth:
        errors = [np.abs(inst.keypoints[:, :2] - joints).max() for inst in found]
        assert min(errors) <= tolerance, (min(errors), tolerance)
    assert all((inst.keypoints[:, 2] > 0.1).all() for inst in found)


@pytest.mark.parametrize(
    "options",
    [{}, {"flip": True}, {"scales": (1.0, 1.5)}, {"flip": True, "scales": (0.75, 1.0)}, {"method": "greedy"}],
    ids=["plain", "flip", "multiscale", "flip+multiscale", "greedy"],
)
def test_instances_land_on_the_joints_in_image_pixels(options: dict) -> None:
    # Non-square images of different sizes in one batch: each is padded differently.
    scenes = [scene(240, 150, 0), scene(100, 180, 1), scene(128, 128, 2)]
    results = predictor(**options).predict_batch([image for image, _ in scenes])
    for (image, truth), result in zip(scenes, results, strict=True):
        shrink = max(image.shape[:2]) / 128
        # Quarter-pixel adjusted peaks of 4x4-pooled discs: within a heatmap pixel of the true centre.
        match(result.instances, truth, tolerance=4 * shrink)
        assert (result.width, result.height) == (image.shape[1], image.shape[0])


def test_predict_accepts_arrays_files_and_grey_images(tmp_path) -> None:
    image, truth = scene(200, 160, 3)
    Image.fromarray(image).save(tmp_path / "a.png")
    p = predictor()
    from_array, from_file = p.predict(image), p.predict(tmp_path / "a.png")
    for a, b in zip(from_array, from_file, strict=True):
        np.testing.assert_allclose(a.keypoints, b.keypoints)
    match(from_file, truth, tolerance=4 * 200 / 128)
    assert p.predict(np.zeros((50, 70), np.uint8)) == []


def test_candidates_are_mapped_to_image_pixels() -> None:
    image, truth = scene(240, 150, 4)
    [result] = predictor().predict_batch([image], candidates=True)
    cands = result.candidates
    assert cands is not None
    for k in range(SCHEMA.num_joints):
        valid = cands.score[k] > 0.1
        # The two strongest candidates of each joint type are the two instances' joints.
        top = cands.xy[k][valid][:2]
        for x, y in truth[:, k]:
            assert np.abs(top - [x, y]).max(axis=1).min() <= 4 * 240 / 128
        assert (cands.xy[k][cands.score[k] <= 0] == 0).all()


def test_predict_files_skips_unreadable_images_in_order(tmp_path) -> None:
    paths = []
    for i in range(5):
        path = tmp_path / f"{i}.png"
        if i == 2:
            path.write_bytes(b"not a png")
        else:
            Image.fromarray(scene(120, 100, i)[0]).save(path)
        paths.append(path)
    out = list(predictor().predict_files(paths, batch_size=2))
    assert [p for p, _ in out] == paths
    assert isinstance(out[2][1], str) and "2.png" in out[2][1]
    assert all(len(r.instances) == 2 for i, (_, r) in enumerate(out) if i != 2)


def test_bad_options_are_user_errors() -> None:
    from aegroup.errors import AegroupError

    with pytest.raises(AegroupError, match="scales"):
        predictor(scales=(0.0,))
    with pytest.raises(AegroupError, match="nope"):
        predictor(method="nope")


class NumpyOracle:
    """The oracle as a non-torch backend (a `Network` returning numpy arrays, as ONNX Runtime does)."""

    def __init__(self) -> None:
        self.model = Oracle(SCHEMA.num_joints)

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            output = self.model(torch.from_numpy(batch))
        return output.heatmaps[-1].numpy(), output.tags[-1].numpy()


@pytest.mark.parametrize(
    "options",
    [{}, {"flip": True}, {"flip": True, "scales": (0.75, 1.0)}],
    ids=["plain", "flip", "flip+multiscale"],
)
def test_numpy_maps_give_the_instances_of_tensor_maps(options: dict) -> None:
    """A backend returning numpy arrays goes through the numpy merges and decoding: the same instances as
    the torch path (identical bits without multi-scale, whose two resizes agree to float rounding)."""
    scenes = [scene(240, 150, 5), scene(100, 180, 6)]
    images = [image for image, _ in scenes]
    arrays = Predictor(NumpyOracle(), SCHEMA, input_size=128, **options).predict_batch(images, True)
    tensors = predictor(**options).predict_batch(images, True)
    exact = "scales" not in options
    for a, t in zip(arrays, tensors, strict=True):
        assert len(a.instances) == len(t.instances) == 2
        for x, y in zip(a.instances, t.instances, strict=True):
            np.testing.assert_allclose(x.keypoints, y.keypoints, rtol=0, atol=0 if exact else 1e-4)
            np.testing.assert_allclose(x.tags, y.tags, rtol=0, atol=0 if exact else 1e-5)
        assert a.candidates is not None and t.candidates is not None
        np.testing.assert_allclose(a.candidates.xy, t.candidates.xy, rtol=0, atol=0 if exact else 1e-4)

"""`Predictor`: resize + pad, batching, flip and multi-scale, and the way back to image pixels.

An "oracle" network reads joint type and instance straight from the pixel colours (red codes the joint,
green the instance, blue marks a joint), so its maps are exact and any error in the image <-> network frame
mapping shows up as a keypoint in the wrong place. It is convolution-like (per-pixel, then 4x4 average
pooling), so it is equivariant to flips and scales exactly as a trained network should be.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from aegroup.data.transforms import MEAN, STD
from aegroup.model import ModelOutput
from aegroup.predict import Predictor
from aegroup.schema import PoseSchema

SCHEMA = PoseSchema(name="tripod", joints=["a", "b", "c"], edges=[("a", "b"), ("b", "c")])
RADIUS = 3


class Oracle(torch.nn.Module):
    """Heatmaps and tags decoded from pixel colours, at a quarter of the input resolution."""

    def __init__(self, num_joints: int) -> None:
        super().__init__()
        self.codes = torch.tensor([joint_red(k) / 255 for k in range(num_joints)])
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> ModelOutput:
        rgb = images * self.std + self.mean
        blue = rgb[:, 2:3].clamp(min=1e-3)
        marker = (blue > 0.3).float()
        # Codes are colour ratios to blue, which resampling against the black background leaves unchanged.
        hit = marker * (torch.abs(rgb[:, :1] / blue - self.codes.view(1, -1, 1, 1)) < 0.04).float()
        # A Gaussian blur gives each disc a single smooth peak; pooling by 4 makes the stride-4 maps.
        heat = torch.nn.functional.avg_pool2d(blur(hit), 4)
        green = torch.nn.functional.avg_pool2d(blur(hit * rgb[:, 1:2] / blue * 10), 4)
        tags = (green / heat.clamp(min=1e-6)).unsqueeze(2)
        # A symmetric disc can straddle two pooling cells exactly; a faint ramp breaks such ties the way
        # a real network's noise would, so each disc has one peak.
        h, w = heat.shape[-2:]
        # Quadratic, so that averaging with a flipped view does not cancel it.
        heat = heat * (1 + 1e-3 * torch.linspace(0, 1, w) ** 2 + 1e-4 * torch.linspace(0, 1, h)[:, None] ** 2)
        return ModelOutput(heatmaps=[heat / heat.amax().clamp(min=1e-6)], tags=[tags])


def blur(maps: torch.Tensor, sigma: float = 3.0) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) maps, per channel."""
    r = int(3 * sigma)
    x = torch.arange(-r, r + 1, dtype=maps.dtype)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    c = maps.shape[1]
    out = torch.nn.functional.conv2d(maps, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), padding=(0, r), groups=c)
    return torch.nn.functional.conv2d(out, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), padding=(r, 0), groups=c)


def joint_red(k: int) -> int:
    """Red value coding joint type k."""
    return 60 + 60 * k


def draw(width: int, height: int, instances: np.ndarray) -> np.ndarray:
    """A black image with one coloured disc per joint of each (N, K, 2) instance."""
    image = Image.new("RGB", (width, height))
    pen = ImageDraw.Draw(image)
    for n, joints in enumerate(instances):
        for k, (x, y) in enumerate(joints):
            box = (x - RADIUS, y - RADIUS, x + RADIUS, y + RADIUS)
            pen.ellipse(box, fill=(joint_red(k), 40 + 60 * n, 255))
    return np.asarray(image)


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

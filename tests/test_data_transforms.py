"""Affines, image warping, augmentation parameters and `preprocess`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from aegroup.data.transforms import MEAN, STD, AugmentConfig, preprocess, random_affine, warp
from aegroup.geometry import (
    apply_affine,
    centred_affine,
    compose,
    fit_affine,
    heatmap_to_input,
    input_to_heatmap,
    invert_affine,
)


def blob_image(width: int, height: int, x: float, y: float, sigma: float = 6.0) -> np.ndarray:
    """(H, W, 3) uint8 image with one bright Gaussian blob centred on (x, y)."""
    yy, xx = np.mgrid[:height, :width]
    g = 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat(g.astype(np.uint8)[:, :, None], 3, axis=2)


def blob_centre(channel: np.ndarray) -> np.ndarray:
    """Sub-pixel centre of the brightest blob: weighted mean of the pixels above half the peak."""
    lo = np.median(channel)
    w = np.clip(channel - lo - 0.5 * (channel.max() - lo), 0, None)
    yy, xx = np.mgrid[: channel.shape[0], : channel.shape[1]]
    return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


def test_invert_apply_compose() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3))
    b = rng.normal(size=(2, 3))
    pts = rng.normal(size=(7, 2))
    np.testing.assert_allclose(apply_affine(apply_affine(pts, a), invert_affine(a)), pts, atol=1e-9)
    np.testing.assert_allclose(
        apply_affine(pts, compose(b, a)), apply_affine(apply_affine(pts, a), b), atol=1e-9
    )
    np.testing.assert_allclose(compose(heatmap_to_input(4), input_to_heatmap(4)), np.eye(3)[:2], atol=1e-12)


def test_heatmap_frame_mirrors_with_the_input() -> None:
    size, stride = 64, 4
    x_in = np.array([[0.0, 0.0], [17.3, 5.0], [63.0, 40.0]])
    mirrored = x_in.copy()
    mirrored[:, 0] = size - 1 - x_in[:, 0]
    h = apply_affine(x_in, input_to_heatmap(stride))
    hm = apply_affine(mirrored, input_to_heatmap(stride))
    np.testing.assert_allclose(hm[:, 0], size // stride - 1 - h[:, 0], atol=1e-12)
    # Heatmap pixel j sits at the centre of input pixels 4j .. 4j+3.
    np.testing.assert_allclose(apply_affine([[2.0, 0.0]], heatmap_to_input(stride)), [[9.5, 1.5]])


@pytest.mark.parametrize("seed", range(4))
def test_warp_moves_pixels_where_the_affine_moves_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    width, height = 300, 220
    x, y = rng.uniform(60, 240), rng.uniform(50, 170)
    config = AugmentConfig(scale_min=0.6, scale_max=1.4, rotation=45, translate=0.05, flip_prob=0.5)
    size = int(rng.choice([96, 160, 256]))
    affine, _ = random_affine(width, height, size, config, rng)
    out = np.asarray(warp(Image.fromarray(blob_image(width, height, x, y)), affine, size))[:, :, 0]
    expected = apply_affine([x, y], affine)
    np.testing.assert_allclose(blob_centre(out.astype(float)), expected, atol=0.25)


def test_warp_prefilters_large_shrinks_without_shifting() -> None:
    image = Image.fromarray(blob_image(900, 700, 612.4, 150.7, sigma=20))
    affine = fit_affine(900, 700, 64)
    out = np.asarray(warp(image, affine, 64))[:, :, 0].astype(float)
    np.testing.assert_allclose(blob_centre(out), apply_affine([612.4, 150.7], affine), atol=0.25)


def test_preprocess_fits_pads_and_normalises() -> None:
    image = np.full((100, 200, 3), 255, np.uint8)
    x, affine = preprocess(image, 128)
    assert x.shape == (3, 128, 128) and x.dtype == np.float32
    # Longer side fills the input; the image is centred, so corners map inside and rows 0..31 are padding.
    np.testing.assert_allclose(
        apply_affine([[-0.5, -0.5], [199.5, 99.5]], affine), [[-0.5, 31.5], [127.5, 95.5]]
    )
    np.testing.assert_allclose(x[:, 64, 64], (1 - MEAN) / STD, atol=1e-5)
    assert np.abs(x[:, :30, :]).max() < 0.01
    grey, _ = preprocess(np.zeros((50, 50), np.uint8), 32)
    assert grey.shape == (3, 32, 32)


def test_augment_config_validates_ranges() -> None:
    with pytest.raises(ValidationError, match="scale_min"):
        AugmentConfig(scale_min=1.5, scale_max=1.0)
    with pytest.raises(ValidationError):
        AugmentConfig(flip_prob=1.5)


def test_random_affine_stays_within_its_ranges() -> None:
    rng = np.random.default_rng(1)
    config = AugmentConfig(scale_min=0.5, scale_max=2.0, rotation=20, translate=0.1, flip_prob=0.5)
    flips = []
    for _ in range(200):
        affine, flipped = random_affine(400, 200, 128, config, rng)
        det = np.linalg.det(affine[:, :2])
        scale = np.sqrt(abs(det)) / (128 / 400)
        assert 0.5 - 1e-9 <= scale <= 2.0 + 1e-9
        assert (det < 0) == flipped
        centre = apply_affine([199.5, 99.5], affine)
        assert np.all(np.abs(centre - 63.5) <= 0.1 * 128 + 1e-9)
        flips.append(flipped)
    assert 60 < sum(flips) < 140


def clustered_instances(rng: np.random.Generator, count: int, spread: float) -> np.ndarray:
    """(count, 6, 3) instances of 6 joints within `spread` px of random centres; some joints unlabelled
    (0, 0, 0, far from every instance)."""
    centres = rng.uniform([100, 100], [900, 600], (count, 1, 2))
    xy = centres + rng.uniform(-spread, spread, (count, 6, 2))
    v = np.where(rng.random((count, 6)) < 0.2, 0.0, 2.0)
    v[:, 0] = 2.0
    kp = np.concatenate([xy, v[..., None]], axis=-1)
    kp[v == 0] = 0.0
    return kp


def box_centre(instance: np.ndarray) -> np.ndarray:
    """Centre of the box around an instance's labelled joints, computed plainly."""
    xs = [x for x, _, v in instance if v > 0]
    ys = [y for _, y, v in instance if v > 0]
    return np.array([(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2])


@pytest.mark.parametrize("seed", range(3))
def test_native_crops_centred_on_an_instance_contain_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 128
    config = AugmentConfig(
        scale_reference="native",
        center="instance",
        scale_min=0.8,
        scale_max=1.2,
        rotation=180,
        translate=0.1,
        flip_prob=0.5,
    )
    for _ in range(100):
        kp = clustered_instances(rng, int(rng.integers(1, 4)), spread=20)
        affine, flipped = random_affine(1000, 700, size, config, rng, kp)
        # Native scale: the zoom is the drawn factor itself, not relative to fitting the 1000 px image.
        assert 0.8 - 1e-9 <= np.sqrt(abs(np.linalg.det(affine[:, :2]))) <= 1.2 + 1e-9
        assert (np.linalg.det(affine[:, :2]) < 0) == flipped
        # Joints lie within 20 * sqrt(2) px of their box centre, x 1.2 zoom, plus at most 12.8 px of shift
        # per axis: the whole of the chosen instance is inside the 128 px input.
        mapped = apply_affine(kp[..., :2], affine)
        inside = ((mapped >= 0) & (mapped <= size - 1)).all(axis=-1) | (kp[..., 2] == 0)
        assert inside.all(axis=1).any()


@pytest.mark.parametrize("seed", range(3))
def test_instance_centre_goes_to_the_input_centre_flipped_or_not(seed: int) -> None:
    rng = np.random.default_rng(seed)
    config = AugmentConfig(
        scale_reference="native", center="instance", rotation=180, translate=0.0, flip_prob=0.5
    )
    kp = clustered_instances(rng, 3, spread=40)
    chosen, flips = [], []
    for _ in range(120):
        affine, flipped = random_affine(1000, 700, 96, config, rng, kp)
        # The flip mirrors the image first; the chosen instance's own box centre lands on the centre.
        at_centre = [
            np.allclose(apply_affine(box_centre(inst), affine), [47.5, 47.5], atol=1e-9) for inst in kp
        ]
        assert sum(at_centre) == 1
        chosen.append(at_centre.index(True))
        flips.append(flipped)
    assert set(chosen) == {0, 1, 2} and 30 < sum(flips) < 90


def test_instance_centring_skips_unlabelled_instances_and_falls_back_to_the_image() -> None:
    rng = np.random.default_rng(4)
    config = AugmentConfig(center="instance", scale_reference="native", rotation=0, translate=0, flip_prob=0)
    kp = clustered_instances(rng, 2, spread=10)
    kp[0] = 0.0  # no labelled joint: never a centre
    for _ in range(20):
        affine, _ = random_affine(1000, 700, 64, config, rng, kp)
        np.testing.assert_allclose(apply_affine(box_centre(kp[1]), affine), [31.5, 31.5], atol=1e-9)
    for instances in (None, np.zeros((0, 6, 3)), np.zeros((1, 6, 3))):
        affine, _ = random_affine(1000, 700, 64, config, rng, instances)
        np.testing.assert_allclose(apply_affine([499.5, 349.5], affine), [31.5, 31.5], atol=1e-9)


def test_image_centring_keeps_the_random_stream_of_fitted_augmentation() -> None:
    # scale_reference 'fit' and center 'image' are the defaults: the same draws give the same affine as a
    # centred affine built by hand from them (what every earlier run and checkpoint was trained with).
    config = AugmentConfig(scale_min=0.5, scale_max=2.0, rotation=20, translate=0.1, flip_prob=0.0)
    affine, _ = random_affine(400, 200, 128, config, np.random.default_rng(7), np.ones((2, 6, 3)))
    draws = np.random.default_rng(7)
    scale = 128 / 400 * draws.uniform(0.5, 2.0)
    degrees = draws.uniform(-20, 20)
    dx, dy = draws.uniform(-0.1, 0.1, size=2) * 128
    np.testing.assert_allclose(affine, centred_affine(400, 200, 128, scale, degrees, dx, dy), atol=1e-12)


def test_a_share_of_crops_is_centred_anywhere_in_the_image() -> None:
    rng = np.random.default_rng(5)
    config = AugmentConfig(
        scale_reference="native", center="instance", random_center_prob=0.3, rotation=90, flip_prob=0.5
    )
    config = config.model_copy(update={"translate": 0.0})
    kp = clustered_instances(rng, 2, spread=20)
    centres = [box_centre(inst) for inst in kp]
    anywhere = []
    for _ in range(400):
        affine, _ = random_affine(1000, 700, 64, config, rng, kp)
        point = apply_affine([31.5, 31.5], invert_affine(affine))  # the image point at the input centre
        assert 0 <= point[0] <= 999 and 0 <= point[1] <= 699
        if not any(np.allclose(point, c, atol=1e-6) for c in centres):
            anywhere.append(point)
    assert 90 < len(anywhere) < 150  # 30 % of 400 draws, within 3.7 binomial standard deviations
    spread = np.array(anywhere)
    assert spread[:, 0].min() < 150 and spread[:, 0].max() > 850 and spread[:, 1].max() > 550

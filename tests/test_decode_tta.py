"""Tensor paths: batched candidates on torch equal the numpy path; flip and multi-scale merges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aegroup.data.targets import render_heatmaps
from aegroup.decode import (
    DecodeConfig,
    decode_batch,
    decode_batch_with_candidates,
    extract_candidates,
    group,
)
from aegroup.decode.tta import flip_maps, merge_flip, merge_scales, resize_bilinear, resize_maps
from aegroup.errors import AegroupError
from aegroup.schema import load_schema

SCHEMA = load_schema("coco17")


def scene(seed: int, n: int = 4, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """(K, H, W) heatmaps of n random instances and (K, H, W, 1) tags = instance index near each joint."""
    rng = np.random.default_rng(seed)
    k = SCHEMA.num_joints
    kp = np.concatenate([rng.uniform(2, size - 3, (n, k, 2)), np.full((n, k, 1), 2.0)], axis=2)
    kp[rng.random((n, k)) < 0.2, 2] = 0
    heat = render_heatmaps(kp, size, size, sigma=1.5) + rng.uniform(0, 0.01, (k, size, size)).astype(
        np.float32
    )
    yy, xx = np.mgrid[:size, :size]
    d2 = (xx[None, None] - kp[:, :, 0, None, None]) ** 2 + (yy[None, None] - kp[:, :, 1, None, None]) ** 2
    tags = d2.argmin(axis=0)[..., None].astype(np.float32) + rng.normal(0, 0.05, (k, size, size, 1))
    return heat.astype(np.float32), tags.astype(np.float32)


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    """Tensors equal up to float32 rounding (numpy's check: torch.testing's first call costs seconds)."""
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def same(a, b) -> None:
    """Two instance lists are equal (keypoints and scores)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.keypoints, y.keypoints, rtol=0, atol=1e-6)
        assert x.score == pytest.approx(y.score)


@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_decode_batch_equals_group_per_image(method: str, refine: bool) -> None:
    scenes = [scene(s) for s in range(3)]
    heat = torch.from_numpy(np.stack([h for h, _ in scenes]))
    tags = torch.from_numpy(np.stack([t for _, t in scenes])).permute(0, 1, 4, 2, 3)  # model layout
    cfg = DecodeConfig(refine=refine)
    batch = decode_batch(heat, tags, SCHEMA, method, cfg)
    for (h, t), got in zip(scenes, batch, strict=True):
        same(got, group(h, t, SCHEMA, method, cfg))


def test_decode_batch_with_candidates_extracts_once_for_both() -> None:
    """The instances of `decode_batch` and the candidates of `extract_candidates`, image by image."""
    scenes = [scene(s) for s in range(2)]
    heat = torch.from_numpy(np.stack([h for h, _ in scenes]))
    tags = torch.from_numpy(np.stack([t for _, t in scenes])).permute(0, 1, 4, 2, 3)
    instances, cands = decode_batch_with_candidates(heat, tags, SCHEMA, "greedy", tag_threshold=0.8)
    for got, expected in zip(
        instances, decode_batch(heat, tags, SCHEMA, "greedy", tag_threshold=0.8), strict=True
    ):
        same(got, expected)
    for (h, t), c in zip(scenes, cands, strict=True):
        ref = extract_candidates(h, t, DecodeConfig(tag_threshold=0.8))
        for name in ("xy", "score", "tag"):
            np.testing.assert_allclose(getattr(c, name), getattr(ref, name), rtol=0, atol=1e-6)


@pytest.mark.parametrize("refine", [False, True])
@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_decode_batch_of_numpy_arrays_equals_the_tensor_path_exactly(method: str, refine: bool) -> None:
    """ONNX Runtime hands back numpy arrays: their torch-free path gives bit-identical instances and
    candidates, with two-dimensional tags (one instance offset by 0.6 in the second dimension)."""
    scenes = [scene(s) for s in range(3)]
    heat = np.stack([h for h, _ in scenes])
    first = np.stack([t for _, t in scenes]).transpose(0, 1, 4, 2, 3)  # (B, K, 1, H, W) model layout
    tags = np.concatenate([first, (first > 2) * 0.6], axis=2).astype(np.float32)
    cfg = DecodeConfig(refine=refine, tag_threshold=0.8)
    got, got_cands = decode_batch_with_candidates(heat, tags, SCHEMA, method, cfg)
    want, want_cands = decode_batch_with_candidates(
        torch.from_numpy(heat), torch.from_numpy(tags), SCHEMA, method, cfg
    )
    assert sum(map(len, got)) > 6
    for image_got, image_want in zip(got, want, strict=True):
        assert len(image_got) == len(image_want)
        for a, b in zip(image_got, image_want, strict=True):
            np.testing.assert_array_equal(a.keypoints, b.keypoints)
            np.testing.assert_array_equal(a.tags, b.tags)
            assert a.score == b.score
    for a, b in zip(got_cands, want_cands, strict=True):
        for name in ("xy", "score", "tag"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_decode_batch_of_numpy_arrays_rejects_bad_input() -> None:
    h, t = scene(7)
    heat, tags = h[None].copy(), t.transpose(0, 3, 1, 2)[None]
    with pytest.raises(AegroupError, match=r"heatmaps: expected \(B, 17, H, W\)"):
        decode_batch(heat[:, :5], tags, SCHEMA)
    with pytest.raises(AegroupError, match="tags: expected"):
        decode_batch(heat, tags[..., :-1], SCHEMA)
    heat[0, 0, 0, 0] = np.inf
    with pytest.raises(AegroupError, match="heatmaps: 1 NaN or infinite"):
        decode_batch(heat, tags, SCHEMA)


def test_group_accepts_tensors_and_batch_rejects_bad_input() -> None:
    h, t = scene(7)
    same(group(torch.from_numpy(h), torch.from_numpy(t), SCHEMA), group(h, t, SCHEMA))
    heat = torch.from_numpy(h)[None].clone()
    tags = torch.from_numpy(t).permute(0, 3, 1, 2)[None].clone()
    heat[0, 0, 0, 0] = float("nan")
    with pytest.raises(AegroupError, match="heatmaps: NaN"):
        decode_batch(heat, tags, SCHEMA)
    with pytest.raises(AegroupError, match="expected"):
        decode_batch(heat[:, :5], tags, SCHEMA)


def test_flip_with_a_mirrored_input_equals_the_unflipped_result() -> None:
    """The maps of the mirrored image are the mirror of the maps, with left/right channels swapped."""
    h, t = scene(3)
    heat = torch.from_numpy(h)[None]
    tags = torch.from_numpy(t).permute(0, 3, 1, 2)[None]
    index = SCHEMA.flip_index
    mirrored_heat, mirrored_tags = heat.flip(-1)[:, index], tags.flip(-1)[:, index]
    merged_heat, merged_tags = merge_flip(heat, tags, mirrored_heat, mirrored_tags, index)
    np.testing.assert_array_equal(merged_heat.numpy(), heat.numpy())
    assert merged_tags.shape[2] == 2 * tags.shape[2]  # tags concatenated, D -> 2D
    np.testing.assert_array_equal(merged_tags[:, :, 1:].numpy(), tags.numpy())
    flipped = decode_batch(merged_heat, merged_tags, SCHEMA)[0]
    plain = group(h, t, SCHEMA)
    same(flipped, plain)


def test_flip_maps_is_its_own_inverse_and_swaps_pairs() -> None:
    heat = torch.rand(2, SCHEMA.num_joints, 6, 7)
    tags = torch.rand(2, SCHEMA.num_joints, 3, 6, 7)
    back = flip_maps(*flip_maps(heat, tags, SCHEMA.flip_index), SCHEMA.flip_index)
    close(back[0], heat)
    close(back[1], tags)
    left, right = SCHEMA.joints.index("left_wrist"), SCHEMA.joints.index("right_wrist")
    close(flip_maps(heat, tags, SCHEMA.flip_index)[0][:, left], heat[:, right].flip(-1))
    with pytest.raises(AegroupError, match="flip_index"):
        flip_maps(heat, tags, [0, 1])


def test_merge_scales_averages_heatmaps_and_concatenates_tags() -> None:
    heat = torch.rand(1, 2, 8, 8)
    tags = torch.rand(1, 2, 1, 8, 8)
    small_heat, small_tags = resize_maps(heat, tags, (4, 4))
    assert small_heat.shape == (1, 2, 4, 4) and small_tags.shape == (1, 2, 1, 4, 4)
    merged_heat, merged_tags = merge_scales([heat, small_heat], [tags, small_tags], (8, 8))
    up_heat, up_tags = resize_maps(small_heat, small_tags, (8, 8))
    close(merged_heat, (heat + up_heat) / 2)
    close(merged_tags, torch.cat([tags, up_tags], dim=2))
    with pytest.raises(AegroupError, match="multi-scale"):
        merge_scales([heat], [], (8, 8))


def bilinear_reference(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Plain-loop bilinear resize with aligned pixel centres and edge clamping (float64)."""
    h, w = maps.shape[-2:]
    out = np.zeros((*maps.shape[:-2], *size))
    for i in range(size[0]):
        y = min(max((i + 0.5) * h / size[0] - 0.5, 0.0), h - 1)
        y0 = int(y)
        y1 = min(y0 + 1, h - 1)
        for j in range(size[1]):
            x = min(max((j + 0.5) * w / size[1] - 0.5, 0.0), w - 1)
            x0 = int(x)
            x1 = min(x0 + 1, w - 1)
            top = maps[..., y0, x0] * (1 - (x - x0)) + maps[..., y0, x1] * (x - x0)
            bottom = maps[..., y1, x0] * (1 - (x - x0)) + maps[..., y1, x1] * (x - x0)
            out[..., i, j] = top * (1 - (y - y0)) + bottom * (y - y0)
    return out


@pytest.mark.parametrize(("source", "size"), [((8, 8), (12, 12)), ((9, 6), (4, 10)), ((5, 7), (5, 7))])
def test_numpy_resize_equals_the_loop_reference_and_torch(source: tuple[int, int], size) -> None:
    maps = np.random.default_rng(0).standard_normal((2, 3, *source)).astype(np.float32)
    got = resize_bilinear(maps, size)
    assert got.dtype == np.float32 and got.shape == (2, 3, *size)
    # Sample positions are float32, as torch computes them: ~1e-7 off the exact ones of the reference.
    np.testing.assert_allclose(got, bilinear_reference(maps.astype(np.float64), size), rtol=0, atol=1e-5)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(maps), size=size, mode="bilinear", align_corners=False
    )
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-6)


def test_numpy_merges_equal_the_tensor_merges() -> None:
    """Flip merges are bit-identical on both backends; multi-scale merges agree to 1e-6 (the resize)."""
    rng = np.random.default_rng(1)
    k = SCHEMA.num_joints
    heat, flipped = (rng.random((2, k, 6, 7), np.float32) for _ in range(2))
    tags, flipped_tags = (rng.standard_normal((2, k, 2, 6, 7)).astype(np.float32) for _ in range(2))
    arrays = merge_flip(heat, tags, flipped, flipped_tags, SCHEMA.flip_index)
    tensors = merge_flip(*map(torch.from_numpy, (heat, tags, flipped, flipped_tags)), SCHEMA.flip_index)
    for a, t in zip(arrays, tensors, strict=True):
        assert isinstance(a, np.ndarray) and a.dtype == np.float32
        np.testing.assert_array_equal(a, t.numpy())
    small_heat, small_tags = heat[..., :3, :4], tags[..., :3, :4]
    arrays = merge_scales([heat, small_heat], [tags, small_tags], (6, 7))
    tensors = merge_scales(
        [torch.from_numpy(heat), torch.from_numpy(small_heat.copy())],
        [torch.from_numpy(tags), torch.from_numpy(small_tags.copy())],
        (6, 7),
    )
    assert arrays[1].shape == (2, k, 4, 6, 7)
    for a, t in zip(arrays, tensors, strict=True):
        np.testing.assert_allclose(a, t.numpy(), rtol=0, atol=1e-6)

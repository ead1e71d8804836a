"""CocoPoseDataset on the real COCO-format sets and on synthetic data: targets, flips, masks, loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import real_data_root
from pycocotools import mask as mask_utils
from scipy import ndimage
from torch.utils.data import DataLoader

from aegroup.data import AugmentConfig, CocoPoseDataset, PoseDataset, collate
from aegroup.data.transforms import MEAN, STD
from aegroup.errors import AegroupError
from aegroup.geometry import apply_affine, compose, heatmap_to_input, input_to_heatmap
from aegroup.io.coco import load_coco
from aegroup.schema import load_schema

STRONG = AugmentConfig(scale_min=0.7, scale_max=1.3, rotation=40, translate=0.1, flip_prob=0.5)


def expected_joints(dataset: CocoPoseDataset, item: dict) -> np.ndarray:
    """(N, K, 3) labelled instances of an item in heatmap pixels, mapped from the file independently."""
    kp, crowd = dataset.coco.keypoints(item["meta"]["image_id"])
    kp = kp[~crowd & (kp[..., 2] > 0).any(axis=1)].copy()
    affine = item["meta"]["affine"]
    kp[..., :2] = apply_affine(kp[..., :2], compose(input_to_heatmap(dataset.output_stride), affine))
    if np.linalg.det(affine[:, :2]) < 0:  # a flipped sample swaps left and right joints
        kp = kp[:, dataset.schema.flip_index]
    return kp


def is_local_peak(heat: np.ndarray, row: int, col: int) -> bool:
    """The pixel is at least as high as its 8 neighbours."""
    window = heat[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
    return heat[row, col] >= window.max() - 1e-6


@pytest.mark.parametrize("train", [False, True])
def test_heatmap_peaks_land_on_the_annotated_joints(real_set, train: bool) -> None:
    ann, folder, schema_name = real_set
    torch.manual_seed(0)
    ds = CocoPoseDataset(ann, folder, schema_name, train=train, input_size=256, augment=STRONG)
    size = ds.output_size
    checked = 0
    for index in range(len(ds)):
        item = ds[index]
        heat = item["heatmaps"].numpy()
        kp = expected_joints(ds, item)
        heat_to_image = compose(item["meta"]["inverse"], heatmap_to_input(ds.output_stride))
        scale = np.sqrt(abs(np.linalg.det(item["meta"]["inverse"][:, :2]))) * ds.output_stride
        for n, k in zip(*np.nonzero(kp[..., 2] > 0), strict=True):
            col, row = np.floor(kp[n, k, :2] + 0.5).astype(int)
            if not (0 <= col < size and 0 <= row < size):
                continue
            others = np.delete(kp[:, k], n, axis=0)
            if (np.abs(others[:, :2] - kp[n, k, :2]).max(axis=1) < 6).any():
                continue  # another instance's same joint nearby merges the peaks
            assert heat[k, row, col] > 0.88 and is_local_peak(heat[k], row, col)
            # The peak pixel maps back to within half a heatmap pixel (diagonal) of the annotation.
            original = dataset_keypoint(ds, item, n, k)
            back = apply_affine([col, row], heat_to_image)
            assert np.linalg.norm(back - original) <= 0.71 * scale + 1e-6
            checked += 1
    assert checked >= 10


def dataset_keypoint(ds: CocoPoseDataset, item: dict, n: int, k: int) -> np.ndarray:
    """Image-pixel position of joint k of the n-th labelled instance, undoing the flip's joint swap."""
    kp, crowd = ds.coco.keypoints(item["meta"]["image_id"])
    kp = kp[~crowd & (kp[..., 2] > 0).any(axis=1)]
    if np.linalg.det(item["meta"]["affine"][:, :2]) < 0:
        k = ds.schema.flip_index[k]
    return kp[n, k, :2]


def test_joints_index_exactly_the_peak_pixels(real_set) -> None:
    ann, folder, schema_name = real_set
    torch.manual_seed(1)
    ds = CocoPoseDataset(
        ann, folder, schema_name, train=True, input_size=256, augment=STRONG, max_instances=8
    )
    for index in range(len(ds)):
        item = ds[index]
        heat = item["heatmaps"].numpy()
        flat = heat.reshape(-1)
        joints = item["joints"].numpy()
        kp = expected_joints(ds, item)
        k_count, size = heat.shape[0], ds.output_size
        rows = 0
        for inst in kp:
            col, row = np.floor(inst[:, :2] + 0.5).astype(int).T
            vis = (inst[:, 2] > 0) & (col >= 0) & (col < size) & (row >= 0) & (row < size)
            if not vis.any() or rows == joints.shape[0]:
                continue
            expected = np.where(vis, np.arange(k_count) * size * size + row * size + col, 0)
            np.testing.assert_array_equal(joints[rows, :, 0], expected)
            np.testing.assert_array_equal(joints[rows, :, 1], vis.astype(int))
            for k in np.flatnonzero(vis):
                assert flat[expected[k]] > 0.88
                assert is_local_peak(heat[k], row[k], col[k]) or heat[k, row[k], col[k]] > 0.88
            rows += 1
        assert not joints[rows:].any()


def test_flipped_sample_mirrors_the_unflipped_one(real_set) -> None:
    ann, folder, schema_name = real_set
    fixed = {"scale_min": 1.0, "scale_max": 1.0, "rotation": 0.0, "translate": 0.0}
    plain = CocoPoseDataset(ann, folder, schema_name, True, 256, augment=AugmentConfig(**fixed, flip_prob=0))
    flipped = CocoPoseDataset(
        ann, folder, schema_name, True, 256, augment=AugmentConfig(**fixed, flip_prob=1)
    )
    flip_index = plain.schema.flip_index
    size = plain.output_size
    for index in range(len(plain)):
        a, b = plain[index], flipped[index]
        np.testing.assert_allclose(b["image"].numpy(), a["image"].numpy()[:, :, ::-1], atol=0.03)
        np.testing.assert_allclose(
            b["heatmaps"].numpy(), a["heatmaps"].numpy()[flip_index, :, ::-1], atol=1e-5
        )
        np.testing.assert_array_equal(b["mask"].numpy(), a["mask"].numpy()[:, ::-1])
        ja, jb = a["joints"].numpy(), b["joints"].numpy()
        np.testing.assert_array_equal(jb[:, :, 1], ja[:, flip_index, 1])
        pix = ja[:, flip_index, 0] % (size * size)
        mirrored = (pix // size) * size + (size - 1 - pix % size)
        expected = np.where(ja[:, flip_index, 1] > 0, np.arange(len(flip_index)) * size * size + mirrored, 0)
        np.testing.assert_array_equal(jb[:, :, 0], expected)


def test_unlabelled_instances_are_masked(real_set) -> None:
    ann, folder, schema_name = real_set
    ds = CocoPoseDataset(ann, folder, schema_name, train=False, input_size=512)
    found, certain = False, 0
    for index in range(len(ds)):
        item = ds[index]
        image_id = item["meta"]["image_id"]
        anns = ds.coco.annotations(image_id)
        ignored = [a for a in anns if a.get("iscrowd") or not any(a["keypoints"][2::3])]
        mask = item["mask"].numpy()
        if not ignored:
            assert mask.min() == 1.0
            continue
        found = True
        info = ds.coco.image_info(image_id)
        region = np.zeros((info["height"], info["width"]), bool)
        for a in ignored:
            if a.get("segmentation"):
                region |= ds.coco.coco.annToMask(a).astype(bool)
            else:  # CrowdPose has boxes only
                x, y, w, h = a["bbox"]
                region[int(np.floor(y)) : int(np.ceil(y + h)), int(np.floor(x)) : int(np.ceil(x + w))] = True
        # Sample the image-resolution region at every heatmap pixel centre.
        yy, xx = np.mgrid[: ds.output_size, : ds.output_size]
        to_image = compose(item["meta"]["inverse"], heatmap_to_input(ds.output_stride))
        pts = np.floor(apply_affine(np.stack([xx, yy], -1).astype(float), to_image) + 0.5).astype(int)
        inside = (pts[..., 0] >= 0) & (pts[..., 0] < info["width"]) & (pts[..., 1] >= 0)
        inside &= pts[..., 1] < info["height"]
        # Heatmap pixels whose whole footprint (half a heatmap pixel around the centre) is inside or
        # outside the region must be masked or supervised; only boundary pixels may go either way.
        half = int(np.ceil(0.5 * np.sqrt(abs(np.linalg.det(to_image[:, :2]))))) + 1
        inner = ndimage.minimum_filter(region, size=2 * half + 1)
        outer = ndimage.maximum_filter(region, size=2 * half + 1)
        px, py = pts[inside][:, 0], pts[inside][:, 1]
        assert (mask[inside][inner[py, px]] == 0).all()
        assert (mask[inside][~outer[py, px]] == 1).all()
        assert (mask[~inside] == 1).all()
        certain += int(inner[py, px].sum())
    if schema_name == "coco17":
        assert found and certain > 0, "the COCO test set has instances without labelled joints"


def with_crowd_region(synth_set, tmp_path: Path) -> tuple[Path, Path, object, list[int]]:
    """The synthetic set plus one crowd annotation (RLE) covering a box in the first image."""
    ann, images, schema = synth_set
    data = json.loads(Path(ann).read_text())
    first = data["images"][0]
    box = [10, 20, 50, 40]  # x, y, w, h
    pixels = np.zeros((first["height"], first["width"]), np.uint8, order="F")
    pixels[box[1] : box[1] + box[3], box[0] : box[0] + box[2]] = 1
    rle = mask_utils.encode(pixels)
    rle["counts"] = rle["counts"].decode("ascii")
    data["annotations"].append(
        {"id": 999, "image_id": first["id"], "category_id": 1, "iscrowd": 1, "segmentation": rle,
         "bbox": box, "area": 2000, "num_keypoints": 0, "keypoints": [0] * (3 * schema.num_joints)}
    )  # fmt: skip
    out = tmp_path / "crowd.json"
    out.write_text(json.dumps(data))
    return out, images, schema, box


def test_crowd_regions_are_masked(synth_set, tmp_path: Path) -> None:
    ann, images, schema, box = with_crowd_region(synth_set, tmp_path)
    ds = CocoPoseDataset(ann, images, schema, train=False, input_size=128)
    item = ds[0]
    mask = item["mask"].numpy()
    # 128x128 image -> 128 input -> 32 heatmap: heatmap pixel j covers image pixels 4j..4j+3.
    expected = np.ones((32, 32), np.float32)
    expected[box[1] // 4 : (box[1] + box[3]) // 4, box[0] // 4 : (box[0] + box[2]) // 4] = 0
    np.testing.assert_array_equal(mask, expected)
    assert ds[1]["mask"].numpy().min() == 1.0


def test_dataloader_with_two_workers(synth_set) -> None:
    ann, images, schema = synth_set
    ds = CocoPoseDataset(ann, images, schema, train=True, input_size=128, max_instances=5)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate, shuffle=True)
    batches = list(loader)
    assert len(batches) == 2
    batch = batches[0]
    k = schema.num_joints
    assert batch["image"].shape == (4, 3, 128, 128) and batch["image"].dtype == torch.float32
    assert batch["heatmaps"].shape == (4, k, 32, 32)
    assert batch["mask"].shape == (4, 32, 32)
    assert batch["joints"].shape == (4, 5, k, 2) and batch["joints"].dtype == torch.int64
    assert len(batch["meta"]) == 4 and {"image_id", "affine", "inverse"} <= set(batch["meta"][0])
    ids = sorted(m["image_id"] for b in batches for m in b["meta"])
    assert ids == sorted(ds.image_ids)


def test_eval_items_are_deterministic_and_match_preprocess(synth_set) -> None:
    from aegroup.data.transforms import preprocess
    from aegroup.io.coco import image_path, read_rgb

    ann, images, schema = synth_set
    ds = CocoPoseDataset(ann, images, schema, train=False, input_size=96)
    a, b = ds[2], ds[2]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["heatmaps"], b["heatmaps"])
    pixels = read_rgb(image_path(images, ds.coco.image_info(ds.image_ids[2])))
    x, affine = preprocess(pixels, 96)
    np.testing.assert_allclose(a["image"].numpy(), x)
    np.testing.assert_allclose(a["meta"]["affine"], affine)


def test_categories_subset_and_mismatch(real_set, tmp_path: Path) -> None:
    ann, _folder, schema_name = real_set
    schema = load_schema(schema_name)
    data = json.loads(Path(ann).read_text())
    used = sorted({a["category_id"] for a in data["annotations"]})
    first = used[0]
    name = next(c["name"] for c in data["categories"] if c["id"] == first)
    subset = load_coco(ann, schema, categories=[name])
    assert subset.category_ids == [first]
    expected = sum(a["category_id"] == first for a in data["annotations"])
    assert sum(len(subset.annotations(i)) for i in subset.image_ids) == expected
    assert sorted(load_coco(ann, schema).category_ids) == sorted(c["id"] for c in data["categories"])
    data["categories"][-1]["keypoints"] = list(reversed(data["categories"][-1]["keypoints"]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(AegroupError) as err:
        load_coco(bad, schema)
    message = str(err.value)
    assert "\n" not in message and str(bad) in message and "'keypoints'" in message
    assert str(schema.joints) in message and str(data["categories"][-1]["keypoints"]) in message
    with pytest.raises(AegroupError, match="no keypoint category 'unicorn'"):
        load_coco(ann, schema, categories=["unicorn"])


def test_ap10k_loads_many_species_with_one_skeleton() -> None:
    ann = real_data_root() / "ap10k" / "test_ap10k.json"
    if not ann.is_file():
        pytest.skip(f"real test data not found at {ann}")
    data = load_coco(ann, load_schema("ap10k17"))
    assert len(data.category_ids) == 54


def test_missing_image_is_an_error_or_a_counted_skip(synth_set, tmp_path: Path) -> None:
    ann, images, schema = synth_set
    data = json.loads(Path(ann).read_text())
    data["images"][3]["file_name"] = "gone.png"
    edited = tmp_path / "missing.json"
    edited.write_text(json.dumps(data))
    with pytest.raises(AegroupError, match=r"gone\.png: image file not found"):
        CocoPoseDataset(edited, images, schema, train=False, input_size=64)
    with pytest.warns(UserWarning, match="skipped 1 of 8 images"):
        ds = CocoPoseDataset(edited, images, schema, train=False, input_size=64, skip_bad_images=True)
    assert len(ds) == 7 and ds.skipped == 1 and data["images"][3]["id"] not in ds.image_ids


def test_input_size_must_be_a_multiple_of_the_stride(synth_set) -> None:
    ann, images, schema = synth_set
    with pytest.raises(AegroupError, match="multiple of output_stride"):
        CocoPoseDataset(ann, images, schema, train=False, input_size=130)


class ArrayFrames:
    """One in-memory labelled frame (a `LabelledFrames` source)."""

    def __init__(self, pixels: np.ndarray, instances: np.ndarray) -> None:
        self.schema = load_schema("coco17").model_copy(
            update={"joints": [f"j{k}" for k in range(instances.shape[1])], "edges": [], "flip_pairs": []}
        )
        self.frame_ids = [1]
        self._pixels, self._instances = pixels, instances

    def __len__(self) -> int:
        return 1

    def pixels(self, index: int) -> np.ndarray:
        return self._pixels

    def frame_size(self, index: int) -> tuple[int, int]:
        return self._pixels.shape[1], self._pixels.shape[0]

    def instances(self, index: int) -> np.ndarray:
        return self._instances

    def ignore_region(self, index: int, shape: tuple[int, int]) -> None:
        return None

    def ground_truth(self) -> dict:
        return {}


def loop_heatmaps(kp: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """(K, size, size) targets by plain loops: per joint and pixel, the highest Gaussian of the labelled
    joints whose nearest pixel is in the map, cut beyond 3 sigma on either axis."""
    out = np.zeros((kp.shape[1], size, size))
    for inst in kp:
        for k, (x, y, v) in enumerate(inst):
            if v <= 0 or not (0 <= np.floor(x + 0.5) < size and 0 <= np.floor(y + 0.5) < size):
                continue
            for row in range(size):
                for col in range(size):
                    if abs(col - x) <= 3 * sigma and abs(row - y) <= 3 * sigma:
                        g = np.exp(-((col - x) ** 2 + (row - y) ** 2) / (2 * sigma**2))
                        out[k, row, col] = max(out[k, row, col], g)
    return out


def test_native_crop_on_an_instance_is_a_plain_slice_with_targets_of_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    # Box centres at half-integers, so a 64 px crop centred on them starts at a whole pixel:
    # A (115.5, 63.5) -> crop x 84..147, y 32..95; B (175.5, 126.5) -> crop x 144..207, y 95..158.
    a = [[100, 50, 2], [131, 77, 2], [120.3, 60.7, 2], [0, 0, 0]]
    b = [[140, 90, 2], [211, 163, 2], [190.2, 140.6, 2], [150.5, 101.25, 2]]
    instances = np.array([a, b], dtype=np.float64)
    offsets = {(84, 32), (144, 95)}
    config = AugmentConfig(
        scale_reference="native",
        center="instance",
        scale_min=1,
        scale_max=1,
        rotation=0,
        translate=0,
        flip_prob=0,
    )
    ds = PoseDataset(
        ArrayFrames(pixels, instances), train=True, input_size=64, max_instances=4, augment=config
    )
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        item = ds[0]
        affine = item["meta"]["affine"]
        ox, oy = round(float(-affine[0, 2])), round(float(-affine[1, 2]))
        assert (ox, oy) in offsets
        np.testing.assert_allclose(affine, [[1, 0, -ox], [0, 1, -oy]], atol=1e-9)
        seen.add((ox, oy))
        crop = pixels[oy : oy + 64, ox : ox + 64].astype(np.float32) / 255
        np.testing.assert_allclose(item["image"].numpy(), ((crop - MEAN) / STD).transpose(2, 0, 1), atol=1e-5)
        # Input pixel u is image pixel u + offset; heatmap pixel j covers input pixels 4j .. 4j + 3.
        kp = instances.copy()
        kp[..., 0] = (kp[..., 0] - ox - 1.5) / 4
        kp[..., 1] = (kp[..., 1] - oy - 1.5) / 4
        np.testing.assert_allclose(item["heatmaps"].numpy(), loop_heatmaps(kp, 16, 2.0), atol=1e-6)
        rows = [
            [
                (k * 256 + int(np.floor(y + 0.5)) * 16 + int(np.floor(x + 0.5)), 1)
                for k, (x, y, v) in enumerate(inst)
                if v > 0 and 0 <= np.floor(x + 0.5) < 16 and 0 <= np.floor(y + 0.5) < 16
            ]
            for inst in kp
        ]
        joints, kept = item["joints"].numpy(), [r for r in rows if r]
        for n, expected in enumerate(kept):
            assert sorted(map(tuple, joints[n][joints[n, :, 1] > 0])) == sorted(expected)
        assert not joints[len(kept) :].any()
    assert seen == offsets

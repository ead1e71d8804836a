"""`CocoPoseDataset`: COCO keypoint images as network inputs with heatmap, mask and grouping targets."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from aegroup.data.targets import joint_indices, render_heatmaps
from aegroup.data.transforms import PAD_COLOR, AugmentConfig, normalize, random_affine, warp
from aegroup.errors import AegroupError
from aegroup.geometry import apply_affine, compose, fit_affine, input_to_heatmap, invert_affine
from aegroup.io.coco import CocoKeypoints, bad_images, image_path, load_coco, read_rgb
from aegroup.schema import PoseSchema, load_schema


class CocoPoseDataset(Dataset):
    """Images of a COCO keypoints file with targets for associative-embedding training.

    Each item is a dict: `image` (3, S, S) float32 normalised input; `heatmaps` (K, S/stride, S/stride);
    `mask` (S/stride, S/stride) float32, 0 over crowd regions and instances without labelled joints;
    `joints` (max_instances, K, 2) int64 flat tag index and visibility; `meta` with `image_id`, `affine`
    (2, 3) image -> input pixels and `inverse` (2, 3) input -> image pixels. Training items get a random
    affine (`augment`); evaluation items fit the whole image like `preprocess`.
    """

    def __init__(
        self,
        ann_file: str | Path,
        image_dir: str | Path,
        schema: PoseSchema | str | Path,
        train: bool,
        input_size: int = 512,
        output_stride: int = 4,
        max_instances: int = 30,
        sigma: float = 2.0,
        augment: AugmentConfig | None = None,
        categories: Sequence[int | str] | None = None,
        skip_bad_images: bool = False,
    ) -> None:
        if input_size <= 0 or output_stride <= 0 or input_size % output_stride:
            raise AegroupError(
                f"input_size {input_size} must be a positive multiple of output_stride {output_stride}"
            )
        self.schema = load_schema(schema)
        self.image_dir = Path(image_dir)
        self.train = train
        self.input_size = input_size
        self.output_stride = output_stride
        self.output_size = input_size // output_stride
        self.max_instances = max_instances
        self.sigma = sigma
        self.augment = (augment or AugmentConfig()) if train else None
        self.coco: CocoKeypoints = load_coco(ann_file, self.schema, categories)
        bad = bad_images(self.coco, self.image_dir, decode=False)
        if bad and not skip_bad_images:
            more = f" (and {len(bad) - 1} more bad images)" if len(bad) > 1 else ""
            raise AegroupError(next(iter(bad.values())) + more)
        if bad:
            warnings.warn(
                f"{self.coco.path}: skipped {len(bad)} of {len(self.coco.image_ids)} images that are missing "
                f"or unreadable (first: {next(iter(bad.values()))})",
                stacklevel=2,
            )
        self.image_ids = [i for i in self.coco.image_ids if i not in bad]
        self.skipped = len(bad)

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self.image_ids[index]
        pixels = read_rgb(image_path(self.image_dir, self.coco.image_info(image_id)))
        height, width = pixels.shape[:2]
        flipped = False
        if self.augment is not None:
            # Seed numpy from torch's generator, which the DataLoader seeds differently in every worker.
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
            affine, flipped = random_affine(width, height, self.input_size, self.augment, rng)
        else:
            affine = fit_affine(width, height, self.input_size)
        image = normalize(np.asarray(warp(Image.fromarray(pixels), affine, self.input_size, fill=PAD_COLOR)))
        to_output = compose(input_to_heatmap(self.output_stride), affine)
        anns = self.coco.annotations(image_id)
        keypoints, crowd = self.coco.keypoints(image_id)
        labelled = (keypoints[..., 2] > 0).any(axis=1)
        people = keypoints[~crowd & labelled]
        people[..., :2] = apply_affine(people[..., :2], to_output)
        if flipped:
            people = people[:, self.schema.flip_index]
        size = self.output_size
        ignored = [a for a, c, lab in zip(anns, crowd, labelled, strict=True) if c or not lab]
        return {
            "image": torch.from_numpy(image),
            "heatmaps": torch.from_numpy(render_heatmaps(people, size, size, self.sigma)),
            "mask": torch.from_numpy(self._mask(ignored, image_id, (height, width), to_output)),
            "joints": torch.from_numpy(joint_indices(people, size, size, self.max_instances)),
            "meta": {"image_id": image_id, "affine": affine, "inverse": invert_affine(affine)},
        }

    def _mask(
        self, ignored: list[dict[str, Any]], image_id: int, shape: tuple[int, int], to_output: np.ndarray
    ) -> np.ndarray:
        """(H, W) float32 loss mask at output resolution: 0 where an ignored annotation covers the pixel."""
        size = self.output_size
        if not ignored:
            return np.ones((size, size), dtype=np.float32)
        region = np.zeros(shape, dtype=np.uint8)
        for ann in ignored:
            region |= self._region(ann, image_id, shape)
        warped = np.asarray(warp(Image.fromarray(region * 255), to_output, size))
        return (warped < 128).astype(np.float32)

    def _region(self, ann: dict[str, Any], image_id: int, shape: tuple[int, int]) -> np.ndarray:
        """(h, w) uint8 0/1 pixels of an annotation: its segmentation (polygons or RLE), else its box."""
        if ann.get("segmentation"):
            info = self.coco.image_info(image_id)
            if (info["height"], info["width"]) == shape:
                return self.coco.coco.annToMask(ann).astype(np.uint8)
        out = np.zeros(shape, dtype=np.uint8)
        if ann.get("bbox"):
            x, y, w, h = ann["bbox"]
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            out[y0 : int(np.ceil(y + h)), x0 : int(np.ceil(x + w))] = 1
        return out

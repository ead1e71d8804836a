"""Demo data without a network: a realistic results file from ground truth (noisy tags, some grouping
mistakes), and a synthetic video of moving animals with tracked predictions holding an identity swap."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from aegroup.io.atomic import atomic_write_json
from aegroup.io.coco import read_coco_json
from aegroup.schema import PoseSchema, load_schema


def noisy_results(
    coco: dict[str, Any],
    schema: PoseSchema,
    tag_dim: int = 1,
    noise: float = 0.12,
    swap_prob: float = 0.03,
    refine_prob: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """A results-file dict (`aegroup.io.results`) that looks like `aegroup predict` output for `coco`.

    Instance i of an image gets tags near a random centre; each joint's tag is that centre plus Gaussian
    noise. With `swap_prob` a joint is exchanged with the same joint of another instance (a grouping
    mistake: its tag stays near its true instance, so the uncertainty score should flag it). With
    `refine_prob` a joint is left out of the stored candidates, as if refinement had filled it in.
    """
    rng = np.random.default_rng(seed)
    k = schema.num_joints
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(int(ann["image_id"]), []).append(ann)
    annotations: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    for image in coco["images"]:
        gt = by_image.get(int(image["id"]), [])
        if not gt:
            continue
        kps = np.array([a["keypoints"] for a in gt], np.float64).reshape(len(gt), k, 3)
        present = kps[:, :, 2] > 0
        centres = rng.uniform(-3, 3, (len(gt), tag_dim)) + np.arange(len(gt))[:, None] * 2.0
        tags = centres[:, None, :] + rng.normal(0, noise, (len(gt), k, tag_dim))
        scores = np.clip(rng.beta(5, 1.5, (len(gt), k)), 0.05, 1.0)
        xy = kps[:, :, :2] + rng.normal(0, 0.7, (len(gt), k, 2))
        _swap_some(rng, xy, tags, scores, present, swap_prob)
        in_candidates = present & (rng.random(present.shape) >= refine_prob)
        for r in range(len(gt)):
            flat = np.concatenate([xy[r], np.where(present[r], scores[r], 0.0)[:, None]], axis=1)
            flat[~present[r]] = 0.0
            annotations.append(
                {
                    "image_id": int(image["id"]),
                    "category_id": 1,
                    "keypoints": flat.reshape(-1).round(2).tolist(),
                    "score": float(scores[r][present[r]].mean()) if present[r].any() else 0.0,
                    "tags": tags[r].round(4).tolist(),
                }
            )
        rows, joints = np.nonzero(in_candidates)
        candidates.append(
            {
                "image_id": int(image["id"]),
                "joint": joints.tolist(),
                "xy": xy[rows, joints].round(2).tolist(),
                "score": scores[rows, joints].round(4).tolist(),
                "tag": tags[rows, joints].round(4).tolist(),
            }
        )
    return {
        "format": "aegroup-results",
        "version": 1,
        "schema": schema.model_dump(),
        "images": [{key: im[key] for key in ("id", "file_name", "width", "height")} for im in coco["images"]],
        "annotations": annotations,
        "candidates": candidates,
    }


def _swap_some(
    rng: np.random.Generator,
    xy: np.ndarray,
    tags: np.ndarray,
    scores: np.ndarray,
    present: np.ndarray,
    prob: float,
) -> None:
    """Exchange a few joints between instances in place (locations move; each keeps its own tag)."""
    n = present.shape[0]
    if n < 2:
        return
    for r, j in zip(*np.nonzero(present & (rng.random(present.shape) < prob)), strict=True):
        other = int(rng.choice([i for i in range(n) if i != r]))
        if present[other, j]:
            for arr in (xy, tags, scores):
                arr[[r, other], j] = arr[[other, r], j]


def random_coco(
    schema: PoseSchema,
    n_images: int,
    n_instances: int,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    file_names: list[str] | None = None,
) -> dict[str, Any]:
    """A COCO keypoints dict of random poses (no pixels): for tests and benchmarks at any scale.

    Each instance is a blob of joints around a random centre; ~10% of joints are absent and ~10% occluded.
    `file_names` (cycled) lets many images share a few real image files.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    k = schema.num_joints
    images, annotations = [], []
    for i in range(1, n_images + 1):
        name = file_names[(i - 1) % len(file_names)] if file_names else f"image_{i:05d}.png"
        images.append({"id": i, "file_name": name, "width": width, "height": height})
        centres = rng.uniform((0.1 * width, 0.1 * height), (0.9 * width, 0.9 * height), (n_instances, 2))
        spread = rng.uniform(0.03, 0.08) * min(width, height)
        xy = centres[:, None, :] + rng.normal(0, spread, (n_instances, k, 2))
        xy = np.clip(xy, 0, (width - 1, height - 1))
        v = rng.choice([0, 1, 2], size=(n_instances, k), p=[0.1, 0.1, 0.8])
        for r in range(n_instances):
            flat = np.concatenate([xy[r], v[r, :, None]], axis=1)
            flat[v[r] == 0] = 0
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "keypoints": [round(float(x), 2) for x in flat.reshape(-1)],
                    "num_keypoints": int((v[r] > 0).sum()),
                    "iscrowd": 0,
                }
            )
    return {"images": images, "annotations": annotations, "categories": [schema.to_coco_category(1)]}


def animal_paths(animals: int, frames: int, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(A, T, 2) smooth centre paths inside a (width, height) image: two sinusoids per axis each."""
    t = np.arange(frames, dtype=np.float64)[None, :, None, None]
    freq = rng.uniform(0.01, 0.03, (animals, 1, 2, 2))
    phase = rng.uniform(0, 2 * np.pi, (animals, 1, 2, 2))
    wave = (np.sin(t * freq + phase) * np.array([0.6, 0.4])).sum(axis=3)  # (A, T, 2) in [-1, 1]
    return np.asarray(size, np.float64) * (0.5 + 0.36 * wave)


def demo_video(
    schema: PoseSchema,
    folder: Path,
    frames: int = 120,
    animals: int = 3,
    size: tuple[int, int] = (640, 480),
    swap_at: int = 60,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write folder/demo.mp4 (animals of `schema` walking over a still background) and folder/demo.slp
    (their poses as tracked predictions); returns both paths.

    The labels hold mistakes to fix: animals 1 and 2 exchange track ids from frame `swap_at` on (an
    identity swap), and the last animal is missing for ten frames from a third of the way (a gap).
    """
    from PIL import Image, ImageDraw

    from aegroup.io.formats import save_poses
    from aegroup.io.poses import VISIBLE, Frame, PoseSet, VideoRef
    from aegroup.optional import require
    from aegroup.synth import DrawnInstance, background, draw_instance, grow, joint_styles, skeleton_layout

    av = require("av", "writing the demo video")
    rng = np.random.default_rng(seed)
    layout, styles = skeleton_layout(schema), joint_styles(schema)
    scale = 0.3 * min(size) / max(layout.extent, 1e-6)
    shapes = [grow(layout, rng) * scale for _ in range(animals)]
    paths = animal_paths(animals, frames, size, rng)
    heading = np.arctan2(*np.gradient(paths, axis=1).transpose(2, 0, 1)[::-1])
    scene = background(rng, *size)
    folder.mkdir(parents=True, exist_ok=True)
    video, labels = folder / "demo.mp4", folder / "demo.slp"
    records = []
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for t in range(frames):
            image = scene.copy()
            draw, mask = ImageDraw.Draw(image), ImageDraw.Draw(Image.new("L", size))
            keypoints = np.zeros((animals, schema.num_joints, 3))
            for a, shape in enumerate(shapes):
                c, s = np.cos(heading[a, t]), np.sin(heading[a, t])
                xy = (shape - shape.mean(axis=0)) @ np.array([[c, s], [-s, c]]) + paths[a, t]
                inst = DrawnInstance(xy, np.ones(schema.num_joints, bool), max(3.5, 0.12 * scale))
                draw_instance(draw, mask, inst, a + 1, schema, styles, np.random.default_rng(seed + a))
                keypoints[a] = np.column_stack([xy + rng.normal(0, 0.8, xy.shape), np.full(len(xy), VISIBLE)])
            track = np.arange(animals)
            if t >= swap_at and animals > 1:
                track[[0, 1]] = track[[1, 0]]
            keep = np.ones(animals, bool)
            keep[-1] = not frames // 3 <= t < frames // 3 + 10
            n = int(keep.sum())
            records.append(
                Frame.build(
                    t + 1,
                    *size,
                    keypoints[keep],
                    scores=rng.uniform(0.6, 0.98, (n, schema.num_joints)).round(3),
                    instance_score=rng.uniform(0.7, 0.95, n).round(3),
                    track=track[keep],
                    user=False,
                    video=0,
                    frame_index=t,
                )
            )
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tracks = [f"{schema.name}_{a + 1}" for a in range(animals)]
    ref = VideoRef(str(video.resolve()), size[0], size[1], frames)
    save_poses(PoseSet(schema, records, tracks=tracks, videos=[ref]), labels)
    return video, labels


def main(argv: list[str] | None = None) -> None:
    """`python -m aegroup_gui.demo GT.json RESULTS.json`: noisy results, to try the labeller;
    `python -m aegroup_gui.demo video FOLDER --schema S`: a synthetic video with tracked predictions."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["video"]:
        main_video(argv[1:])
        return
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("annotations", type=Path, help="COCO keypoints file (e.g. from `aegroup synth`)")
    parser.add_argument("out", type=Path, help="results file to write")
    parser.add_argument("--schema", default=None, help="schema name or file (default: from the file)")
    parser.add_argument("--tag-dim", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    coco = read_coco_json(args.annotations)
    if args.schema:
        schema = load_schema(args.schema)
    else:
        schema = PoseSchema.from_coco_category(next(c for c in coco["categories"] if c.get("keypoints")))
    results = noisy_results(coco, schema, tag_dim=args.tag_dim, seed=args.seed)
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}: {len(results['annotations'])} instances in {len(results['images'])} images")


def main_video(argv: list[str]) -> None:
    """`python -m aegroup_gui.demo video FOLDER --schema S`: FOLDER/demo.mp4 and FOLDER/demo.slp."""
    parser = argparse.ArgumentParser(description=main_video.__doc__)
    parser.add_argument("folder", type=Path, help="folder to write demo.mp4 and demo.slp into")
    parser.add_argument("--schema", default="coco17", help="schema name or file")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--animals", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    video, labels = demo_video(
        load_schema(args.schema), args.folder, args.frames, args.animals, seed=args.seed
    )
    print(f"wrote {video} and {labels}: {args.animals} tracked animals, {args.frames} frames")


if __name__ == "__main__":
    main()

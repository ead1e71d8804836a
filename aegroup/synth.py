"""Synthetic multi-instance pose images for any schema, written as PNGs plus a COCO keypoints file.

Each instance is a random articulated pose grown along the schema's edges (a spanning tree per connected
part; joints outside the tree are placed near the body). Every joint type has its own marker (shape and
colour, consistent across instances) so joints are learnable; instances differ only mildly (size,
brightness, limb colour and width drawn from a small shared set), so telling them apart needs the limbs and
the tags, not a colour per instance. Joints in a flip pair share a marker and differ by a side cue:
"dot" (default) puts a dot on the left or right side, which a horizontal flip swaps, so flip augmentation
stays consistent with the labels; "colour" draws the left and right joint in clearly different colours,
which is easier to learn but a flip does not swap, so it is only for data trained without flip augmentation.
Visibility: 2 drawn and uncovered, 1 drawn but mostly covered by a later instance or an occluder,
0 outside the image or left out.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from aegroup.errors import AegroupError
from aegroup.io.coco import build_coco, save_coco
from aegroup.schema import PoseSchema

SHAPES = ("circle", "square", "triangle", "diamond", "plus", "ring")
"""Marker shapes, each mirror-symmetric about the vertical axis (a flip keeps the shape)."""
PALETTE = (
    (230, 25, 75),
    (60, 200, 75),
    (255, 225, 25),
    (0, 110, 230),
    (245, 130, 48),
    (170, 40, 210),
    (70, 240, 240),
)
"""Saturated marker colours; 6 shapes x 7 colours give 42 distinct markers (6 and 7 are coprime)."""
LIMB_COLORS = ((235, 235, 235), (35, 35, 35), (150, 110, 70), (205, 185, 150), (95, 105, 125))
"""Limb colours shared by all instances (picked at random per instance, repeats allowed)."""

ABSENT_PROB = 0.03
"""Chance that a joint is left out of an instance (not drawn, v = 0)."""
OCCLUDER_PROB = 0.25
"""Chance that an image gets a striped occluder patch over the scene."""
ARTICULATION_DEG = 25.0
"""Largest random bend of a bone away from its canonical direction, in degrees."""
INSTANCE_SCALE = (0.25, 0.62)
"""Default range of an instance's extent, as a fraction of the shorter image side."""
SPACING = 0.45
"""Default least distance between instance centres, as a fraction of the instance's extent."""
SIDE_CUES = ("dot", "colour")
"""How the two joints of a flip pair are told apart (see the module docstring)."""


@dataclass(frozen=True)
class JointStyle:
    """How one joint type is drawn: marker shape, colour, and side dot (-1 left, +1 right, 0 none)."""

    shape: str
    color: tuple[int, int, int]
    side: int


@dataclass(frozen=True)
class Layout:
    """A schema's articulation: BFS order, parent (-1 for part roots), canonical angles and bone lengths."""

    order: list[int]
    parent: list[int]
    angle: np.ndarray
    length: np.ndarray
    part: np.ndarray
    extent: float


def joint_styles(schema: PoseSchema, side_cue: str = "dot") -> list[JointStyle]:
    """Marker style per joint type; a flip pair shares its shape, and its colour unless side_cue="colour"."""
    side = [0] * schema.num_joints
    index = {j: i for i, j in enumerate(schema.joints)}
    partner: dict[int, int] = {}
    for a, b in schema.flip_pairs:
        side[index[a]], side[index[b]] = -1, 1
        partner[index[b]] = index[a]
    marker_class: dict[int, int] = {}
    for k in range(schema.num_joints):
        marker_class[k] = marker_class[partner[k]] if k in partner else len(set(marker_class.values()))
    if side_cue == "colour":
        # The right joint takes the palette colour 3 steps on: a different hue, and no side dot.
        return [
            JointStyle(SHAPES[c % len(SHAPES)], PALETTE[(c + 3 * (side[k] > 0)) % len(PALETTE)], 0)
            for k, c in marker_class.items()
        ]
    return [
        JointStyle(SHAPES[c % len(SHAPES)], PALETTE[c % len(PALETTE)], side[k])
        for k, c in marker_class.items()
    ]


def _adjacency(num_joints: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    adjacency: list[list[int]] = [[] for _ in range(num_joints)]
    for a, b in edges:
        adjacency[a].append(b)
        adjacency[b].append(a)
    return adjacency


def _bfs(root: int, adjacency: list[list[int]]) -> tuple[list[int], dict[int, int], dict[int, int]]:
    """Breadth-first order, parent and depth of every joint reachable from `root`."""
    order, parent, depth, queue = [root], {root: -1}, {root: 0}, deque([root])
    while queue:
        j = queue.popleft()
        for n in adjacency[j]:
            if n not in parent:
                parent[n], depth[n] = j, depth[j] + 1
                order.append(n)
                queue.append(n)
    return order, parent, depth


def skeleton_layout(schema: PoseSchema) -> Layout:
    """Spanning trees over the schema's edges, rooted at each part's centre, with fanned canonical angles."""
    k = schema.num_joints
    adjacency = _adjacency(k, schema.edge_index)
    rank = {j: r for r, j in enumerate(schema.group_index)}
    parts: list[list[int]] = []
    seen: set[int] = set()
    for j in schema.group_index:
        if j not in seen:
            parts.append(_bfs(j, adjacency)[0])
            seen.update(parts[-1])
    parts.sort(key=len, reverse=True)  # stable: equal sizes keep grouping order
    # Bone lengths vary per edge but are fixed for a schema, so a skeleton keeps its proportions.
    length = np.random.default_rng(zlib.crc32(schema.name.encode())).uniform(0.8, 1.25, size=k)
    order: list[int] = []
    parent = [-1] * k
    angle = np.zeros(k)
    part_of = np.zeros(k, dtype=np.int64)
    for p, members in enumerate(parts):
        # Root at the part's centre (smallest eccentricity), ties broken by grouping order.
        root = min(members, key=lambda j: (max(_bfs(j, adjacency)[2].values()), rank[j]))
        part_order, part_parent, _ = _bfs(root, adjacency)
        order += part_order
        part_of[part_order] = p
        for j in part_order:
            parent[j] = part_parent[j]
            children = [c for c in part_order if part_parent[c] == j]
            if part_parent[j] == -1:
                offsets = np.arange(len(children)) * 2 * math.pi / max(len(children), 1)
            else:
                spread = math.radians(min(60.0, 25.0 * (len(children) - 1)))
                offsets = np.linspace(-spread, spread, len(children))
            angle[children] = offsets
    layout = Layout(order, parent, angle, length, part_of, 0.0)
    main = grow(layout, None)[part_of == 0]
    extent = float((main.max(axis=0) - main.min(axis=0)).max())
    return Layout(order, parent, angle, length, part_of, extent)


def grow(layout: Layout, rng: np.random.Generator | None) -> np.ndarray:
    """(K, 2) joint positions in bone units, each part rooted at the origin; `rng` adds articulation."""
    k = len(layout.parent)
    jitter = np.zeros(k) if rng is None else rng.uniform(-1, 1, size=k) * math.radians(ARTICULATION_DEG)
    stretch = np.ones(k) if rng is None else rng.uniform(0.85, 1.15, size=k)
    pos = np.zeros((k, 2))
    heading = np.zeros(k)
    for j in layout.order:
        p = layout.parent[j]
        if p < 0:
            continue
        heading[j] = heading[p] + layout.angle[j] + jitter[j]
        step = layout.length[j] * stretch[j]
        pos[j] = pos[p] + step * np.array([math.cos(heading[j]), math.sin(heading[j])])
    return pos


def marker_outline(shape: str, x: float, y: float, r: float) -> list[tuple[float, float]] | None:
    """Polygon of a marker shape centred on (x, y) with radius r (None for circle and ring)."""
    if shape == "square":
        s = r * 0.85
        return [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
    if shape == "triangle":
        return [(x, y - r), (x + r * 0.95, y + r * 0.7), (x - r * 0.95, y + r * 0.7)]
    if shape == "diamond":
        return [(x, y - r * 1.1), (x + r * 0.85, y), (x, y + r * 1.1), (x - r * 0.85, y)]
    if shape == "plus":
        a, b = r, r * 0.4
        return [
            (x - b, y - a), (x + b, y - a), (x + b, y - b), (x + a, y - b), (x + a, y + b), (x + b, y + b),
            (x + b, y + a), (x - b, y + a), (x - b, y + b), (x - a, y + b), (x - a, y - b), (x - b, y - b),
        ]  # fmt: skip
    return None


def draw_marker(
    draw: ImageDraw.ImageDraw, style: JointStyle, x: float, y: float, r: float, fill: int | tuple[int, ...]
) -> None:
    """Draw one joint marker; `fill` is the colour (RGB image) or the instance label (label map)."""
    rgb = isinstance(fill, tuple)
    outline = (20, 20, 20) if rgb else fill
    poly = marker_outline(style.shape, x, y, r)
    if poly is not None:
        draw.polygon(poly, fill=fill, outline=outline)
    elif style.shape == "ring":
        draw.ellipse((x - r, y - r, x + r, y + r), outline=fill, width=max(2, round(r * 0.45)))
    else:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=outline)
    if style.side and rgb:
        # Near the rim, clear of the centre pixel, so the marker's colour stays visible at the joint.
        d = max(r * 0.28, 1.0)
        c = x + style.side * max(r * 0.6, d + 1.6)
        draw.ellipse((c - d, y - d, c + d, y + d), fill=(15, 15, 15))


def background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A muted, textured background: smooth colour noise plus low-contrast clutter strokes and blobs."""
    cells = rng.integers(2, 7, size=2)
    grey = rng.uniform(60, 190, size=(cells[1], cells[0], 1))
    tint = rng.uniform(-30, 30, size=(cells[1], cells[0], 3))
    base = np.clip(grey + tint, 0, 255).astype(np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    m = min(width, height)
    for _ in range(int(rng.integers(3, 10))):
        color = tuple(int(v) for v in np.clip(rng.uniform(50, 200) + rng.uniform(-25, 25, 3), 0, 255))
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.5, size=2) * m
        kind = rng.integers(3)
        if kind == 0:
            draw.line(
                (x0, y0, x0 + w, y0 + h * rng.choice((-1, 1))), fill=color, width=int(rng.integers(3, 12))
            )
        elif kind == 1:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=color)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=color)
    return image


@dataclass
class DrawnInstance:
    """One drawn instance: (K, 2) joint positions in image pixels, joints left out, marker radius."""

    xy: np.ndarray
    present: np.ndarray
    radius: float


def sample_instance(
    layout: Layout,
    rng: np.random.Generator,
    width: int,
    height: int,
    centres: list[np.ndarray],
    scale: tuple[float, float] = INSTANCE_SCALE,
    spacing: float = SPACING,
) -> DrawnInstance:
    """A random articulated pose whose extent is a fraction in `scale` of the shorter image side.

    Its centre is drawn (up to 20 times) at least `spacing` x extent away from the `centres` so far.
    """
    m = min(width, height)
    extent = rng.uniform(*scale) * m
    # Keep bones long enough that neighbouring joints stay a few heatmap pixels apart.
    bone = max(extent / max(layout.extent, 1e-6), 0.05 * m) if layout.extent > 0 else extent / 2
    pos = grow(layout, rng) * bone
    theta = rng.uniform(0, 2 * math.pi)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    pos = pos @ rot.T
    main = layout.part == 0
    pos -= (pos[main].min(axis=0) + pos[main].max(axis=0)) / 2
    lo, hi = pos[main].min(axis=0), pos[main].max(axis=0)
    # Parts not reached by edges (and isolated joints) sit near the body.
    for p in range(1, int(layout.part.max()) + 1):
        members = layout.part == p
        pad = 0.15 * max(float((hi - lo).max()), bone)
        pos[members] += rng.uniform(lo - pad, hi + pad)
    centre = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
    for _ in range(20):  # overlap, but avoid stacking instances right on top of each other
        if all(np.linalg.norm(centre - c) > spacing * extent for c in centres):
            break
        centre = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
    centres.append(centre)
    radius = float(np.clip(0.35 * bone, 3.5, max(3.5, 0.035 * m)))
    present = rng.random(len(layout.parent)) >= ABSENT_PROB
    return DrawnInstance(pos + centre, present, radius)


def _own_pixels(labels: np.ndarray, xy: np.ndarray, r: float, value: int) -> np.ndarray:
    """Per joint, how many pixels within radius r (box) carry `value` in the label map."""
    h, w = labels.shape
    counts = np.zeros(len(xy), dtype=np.int64)
    for k, (x, y) in enumerate(xy):
        x0, x1 = max(int(x - r), 0), min(int(x + r) + 1, w)
        y0, y1 = max(int(y - r), 0), min(int(y + r) + 1, h)
        if x0 < x1 and y0 < y1:
            counts[k] = int(np.count_nonzero(labels[y0:y1, x0:x1] == value))
    return counts


def draw_instance(
    image: ImageDraw.ImageDraw,
    labels: ImageDraw.ImageDraw,
    inst: DrawnInstance,
    label: int,
    schema: PoseSchema,
    styles: list[JointStyle],
    rng: np.random.Generator,
) -> None:
    """Draw limbs then markers of one instance into the image and its label into the label map."""
    limb = LIMB_COLORS[int(rng.integers(len(LIMB_COLORS)))]
    width = max(2, round(inst.radius * rng.uniform(0.35, 0.6)))
    for a, b in schema.edge_index:
        if inst.present[a] and inst.present[b]:
            line = (*inst.xy[a], *inst.xy[b])
            image.line(line, fill=limb, width=width)
            labels.line(line, fill=label, width=width)
    brightness = rng.uniform(0.85, 1.1)
    for k in np.flatnonzero(inst.present):
        r = max(3.5, inst.radius * rng.uniform(0.85, 1.15))
        color = tuple(int(min(255, c * brightness)) for c in styles[k].color)
        draw_marker(image, styles[k], *inst.xy[k], r, color)
        draw_marker(labels, styles[k], *inst.xy[k], r, label)


def draw_occluder(
    image: ImageDraw.ImageDraw, labels: ImageDraw.ImageDraw, rng: np.random.Generator, m: int
) -> None:
    """A muted striped patch covering part of the scene (label 255 in the label map)."""
    w, h = image.im.size
    sw, sh = rng.uniform(0.08, 0.2, size=2) * m
    x0, y0 = rng.uniform(0, w - sw), rng.uniform(0, h - sh)
    box = (x0, y0, x0 + sw, y0 + sh)
    color = tuple(int(v) for v in np.clip(rng.uniform(70, 180) + rng.uniform(-20, 20, 3), 0, 255))
    image.rectangle(box, fill=color)
    stripe = tuple(max(0, c - 40) for c in color)
    for x in np.arange(x0 + 3, x0 + sw, 6):
        image.line((x, y0, x, y0 + sh), fill=stripe, width=2)
    labels.rectangle(box, fill=255)


def render_image(
    schema: PoseSchema,
    layout: Layout,
    styles: list[JointStyle],
    rng: np.random.Generator,
    size: tuple[int, int],
    num_instances: int,
    scale: tuple[float, float] = INSTANCE_SCALE,
    spacing: float = SPACING,
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic (H, W, 3) uint8 image and its (N, K, 3) x, y, v keypoints in image pixels."""
    width, height = size
    image = background(rng, width, height)
    labels = Image.new("L", (width, height), 0)
    draw_img, draw_lab = ImageDraw.Draw(image), ImageDraw.Draw(labels)
    instances: list[DrawnInstance] = []
    drawn: list[np.ndarray] = []
    centres: list[np.ndarray] = []
    for n in range(num_instances):
        inst = sample_instance(layout, rng, width, height, centres, scale, spacing)
        draw_instance(draw_img, draw_lab, inst, n + 1, schema, styles, rng)
        instances.append(inst)
        drawn.append(_own_pixels(np.asarray(labels), inst.xy, inst.radius * 0.8, n + 1))
    if rng.random() < OCCLUDER_PROB:
        draw_occluder(draw_img, draw_lab, rng, min(width, height))
    final = np.asarray(labels)
    keypoints = np.zeros((num_instances, schema.num_joints, 3))
    for n, inst in enumerate(instances):
        left = _own_pixels(final, inst.xy, inst.radius * 0.8, n + 1)
        covered = left < 0.5 * drawn[n]
        inside = (inst.xy[:, 0] >= 0) & (inst.xy[:, 0] <= width - 1) & (inst.xy[:, 1] >= 0)
        inside &= inst.xy[:, 1] <= height - 1
        keypoints[n, :, :2] = inst.xy
        keypoints[n, :, 2] = np.where(inside & inst.present, np.where(covered, 1, 2), 0)
    # Sensor-like noise (uniform +-8, std about 5); integer draws are several times faster than normal().
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-8, 9, size=(height, width, 3), dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8), keypoints


def instance_boxes(keypoints: np.ndarray, radius: float, width: int, height: int) -> np.ndarray:
    """(N, 4) x, y, w, h around each instance's labelled joints, padded by the marker radius, clipped."""
    boxes = np.zeros((len(keypoints), 4))
    for n, kp in enumerate(keypoints):
        pts = kp[kp[:, 2] > 0, :2]
        if len(pts) == 0:
            continue
        lo = np.clip(pts.min(axis=0) - radius, 0, [width - 1, height - 1])
        hi = np.clip(pts.max(axis=0) + radius, 0, [width - 1, height - 1])
        boxes[n] = [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]
    return boxes


def synthesize(
    schema: PoseSchema,
    out_dir: Path,
    n_images: int = 100,
    max_instances: int = 4,
    size: tuple[int, int] = (256, 256),
    seed: int = 0,
    min_instances: int = 1,
    instance_scale: tuple[float, float] = INSTANCE_SCALE,
    side_cue: str = "dot",
    spacing: float = SPACING,
) -> Path:
    """Write synthetic images (size = width, height) to out_dir/images; returns the COCO JSON path."""
    width, height = size
    if n_images < 1:
        raise AegroupError(f"synth: --images must be at least 1, got {n_images}")
    if not 0 <= min_instances <= max_instances:
        raise AegroupError(
            f"synth: need 0 <= min instances ({min_instances}) <= max instances ({max_instances})"
        )
    if min(width, height) < 32:
        raise AegroupError(f"synth: --size must be at least 32 x 32 pixels, got {width} x {height}")
    lo, hi = instance_scale
    if not 0 < lo <= hi <= 1:
        raise AegroupError(f"synth: --instance-scale needs 0 < MIN <= MAX <= 1, got {lo} {hi}")
    if spacing < 0:
        raise AegroupError(f"synth: --spacing must be at least 0, got {spacing}")
    if side_cue not in SIDE_CUES:
        raise AegroupError(f"synth: --side-cue must be one of {', '.join(SIDE_CUES)}, got '{side_cue}'")
    out_dir = Path(out_dir)
    image_dir = out_dir / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    layout, styles = skeleton_layout(schema), joint_styles(schema, side_cue)
    images, keypoints, boxes = [], {}, {}
    for i in range(n_images):
        rng = np.random.default_rng([seed, i])  # per-image stream: image i is the same whatever n_images is
        count = int(rng.integers(min_instances, max_instances + 1))
        pixels, kp = render_image(schema, layout, styles, rng, (width, height), count, (lo, hi), spacing)
        name = f"{i:06d}.png"
        Image.fromarray(pixels).save(image_dir / name, compress_level=1)
        image_id = i + 1
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        keypoints[image_id] = kp
        boxes[image_id] = instance_boxes(kp, 0.035 * min(width, height), width, height)
    coco = build_coco(schema, images, keypoints, boxes=boxes)
    coco["info"]["description"] = f"aegroup synthetic data for schema '{schema.name}' (seed {seed})"
    return save_coco(out_dir / "annotations.json", coco)

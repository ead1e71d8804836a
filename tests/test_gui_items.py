"""Canvas pieces: the instances item against plain per-instance loops, image decoding and prefetching."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6 import QtCore, QtGui, QtWidgets

from aegroup.io.poses import ABSENT, OCCLUDED
from aegroup.schema import load_schema
from aegroup_gui.app import application
from aegroup_gui.model.document import Annotations
from aegroup_gui.views import images
from aegroup_gui.views.images import ImageCache, decode
from aegroup_gui.views.instance_item import InstancesItem
from aegroup_gui.views.style import instance_color

pytestmark = pytest.mark.gui

SCHEMA = load_schema("coco17")
EDGES = np.array(SCHEMA.edge_index, int).reshape(-1, 2)


def random_annotations(n: int, seed: int) -> Annotations:
    """n instances of random joints in a 200 x 100 image, some absent and some occluded."""
    rng = np.random.default_rng(seed)
    k = SCHEMA.num_joints
    xy = rng.uniform([0, 0], [200, 100], (n, k, 2))
    v = rng.choice([ABSENT, OCCLUDED, 2], (n, k), p=[0.3, 0.2, 0.5])
    return Annotations.build(
        ids=rng.permutation(np.arange(1, n + 1)) * 3,
        keypoints=np.dstack([xy, v]),
        scores=rng.uniform(0, 1, (n, k)),
        tags=rng.normal(size=(n, k, 1)),
        origin=rng.integers(0, 4, (n, k)),
        instance_score=rng.uniform(0, 1, n),
        status=np.zeros(n),
    )


@pytest.mark.parametrize("rows", [[0, 1, 2, 3, 4], [3, 0], [], [2]])
def test_instances_item_holds_each_rows_joints_limbs_and_number(rows: list[int]) -> None:
    application()
    ann = random_annotations(5, seed=len(rows))
    item = InstancesItem()
    item.set_instances(ann, rows, EDGES)
    assert len(item.spans) == len(rows)
    for i, r in enumerate(rows):  # the plain per-instance reference
        a, b = item.spans[i]
        present = [k for k in range(SCHEMA.num_joints) if ann.keypoints[r, k, 2] > 0]
        assert np.array_equal(item.xy[a:b], ann.keypoints[r, present, :2])
        limbs = {
            (a + present.index(j), a + present.index(k)) for j, k in EDGES if j in present and k in present
        }
        c, d = item.limb_spans[i]
        assert {tuple(p) for p in item.limbs[c:d].tolist()} == limbs
        assert item.tops[i] == a + int(np.argmin(ann.keypoints[r, present, 1]))
        assert item.numbers[i].text() == str(r + 1)
        assert item.pens[i].color().name() == instance_color(int(ann.ids[r]))
        hollow = [look[2] >> 24 == 0 for look in item.looks[a:b]]  # occluded: transparent fill
        assert hollow == [ann.keypoints[r, k, 2] == OCCLUDED for k in present]
    item.set_dimmed({int(ann.ids[r]) for r in rows[:1]})
    assert item.opacity == [1.0] * len(rows[:1]) + [0.4] * (len(rows) - 1)


def test_instances_item_paints_limbs_and_markers_in_instance_colours() -> None:
    application()
    ann = random_annotations(3, seed=7)
    scene = QtWidgets.QGraphicsScene()
    item = InstancesItem()
    scene.addItem(item)
    item.set_instances(ann, [0, 1, 2], EDGES)
    image = QtGui.QImage(400, 200, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QtGui.QColor("#000000"))
    painter = QtGui.QPainter(image)
    scene.render(painter, QtCore.QRectF(0, 0, 400, 200), QtCore.QRectF(-50, -25, 300, 150))
    painter.end()
    pixels = {image.pixelColor(x, y).name() for x in range(0, 400, 2) for y in range(0, 200, 2)}
    for inst in ann.ids.tolist():
        assert instance_color(inst) in pixels


def write_images(folder: Path) -> dict[str, np.ndarray]:
    """A PNG (read by Qt) and a PCX (a format only Pillow reads) of known pixels."""
    rng = np.random.default_rng(3)
    pixels = {name: rng.integers(0, 255, (30, 40, 3), dtype=np.uint8) for name in ("a.png", "b.pcx")}
    for name, array in pixels.items():
        Image.fromarray(array).save(folder / name)
    return pixels


def as_array(image: QtGui.QImage) -> np.ndarray:
    """(H, W, 3) RGB of a QImage, pixel by pixel (the plain reference)."""
    return np.array(
        [[image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())] for y in range(image.height())]
    )


def test_decode_reads_qt_and_pillow_formats_as_rgb32(tmp_path: Path) -> None:
    application()
    for name, pixels in write_images(tmp_path).items():
        image = decode(tmp_path / name)
        assert image.format() == QtGui.QImage.Format.Format_RGB32
        assert np.array_equal(as_array(image), pixels)
    assert decode(tmp_path / "missing.png") is None


def test_image_cache_serves_prefetched_images_without_decoding_again(tmp_path: Path, monkeypatch) -> None:
    application()
    pixels = write_images(tmp_path)
    cache = ImageCache(capacity=2)
    cache.prefetch([tmp_path / "a.png", tmp_path / "b.pcx"])
    cache.wait()
    calls: list[Path] = []
    monkeypatch.setattr(images, "decode", lambda path: calls.append(path) or decode(path))
    for name in ("a.png", "b.pcx"):
        image, missing = cache.get(tmp_path / name, (40, 30))
        assert not missing and np.array_equal(as_array(image), pixels[name])
    assert calls == []
    cache.prefetch([tmp_path / "a.png", tmp_path / "c.png"])  # a kept; c pushes the older b out
    cache.wait()
    assert cache.get(tmp_path / "a.png", (40, 30))[1] is False and tmp_path / "a.png" not in calls
    assert cache.get(tmp_path / "b.pcx", (40, 30))[1] is False and calls[-1] == tmp_path / "b.pcx"
    image, missing = cache.get(tmp_path / "c.png", (40, 30))  # missing file: a grey stand-in of its size
    assert missing and (image.width(), image.height()) == (40, 30)

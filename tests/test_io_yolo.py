"""Ultralytics YOLO-pose datasets: data.yaml, splits, [K, 2] and [K, 3] keypoints, bad label lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from posesets import synthetic_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import detect_format, load_poses, read_schema, save_poses

DATA = {
    "path": "/machine/where/it/was/made",
    "train": "images/train",
    "val": "val.txt",
    "kpt_shape": [3, 3],
    "flip_idx": [0, 2, 1],
    "names": {0: "bird"},
    "kpt_names": {0: ["beak", "wing_l", "wing_r"]},
}


def dataset(tmp_path: Path, lines: dict[str, str], data: dict | None = None) -> Path:
    root = tmp_path / "birds"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    for name, text in lines.items():
        Image.new("RGB", (200, 100)).save(root / "images" / name)
        (root / "labels" / name).with_suffix(".txt").write_text(text)
    (root / "val.txt").write_text("\n".join(f"images/{n}" for n in lines if n.startswith("val/")) + "\n")
    (root / "data.yaml").write_text(yaml.safe_dump(data or DATA))
    return root


def test_reads_splits_visibility_and_names(tmp_path: Path) -> None:
    root = dataset(
        tmp_path,
        {
            "train/a.png": "0 0.5 0.5 0.2 0.2 0.1 0.2 2 0.3 0.4 1 0 0 0\n"
            "0 0.5 0.5 0.1 0.1 0.5 0.5 2 0 0 0 0.25 0.75 2\n",
            "train/b.png": "",
            "val/c.png": "0 0.5 0.5 0.1 0.1 0.9 0.1 2 0.8 0.2 2 0.7 0.3 2\n",
        },
    )
    assert detect_format(root) == "yolo" and detect_format(root / "data.yaml") == "yolo"
    schema = read_schema(root)
    assert schema.joints == ["beak", "wing_l", "wing_r"] and schema.flip_pairs == [("wing_l", "wing_r")]
    assert schema.name == "bird"
    poses = load_poses(root)  # `path` names another machine: the set is read from the YAML's folder
    assert [f.file_name for f in poses.frames] == [
        "images/train/a.png",
        "images/train/b.png",
        "images/val/c.png",
    ]
    a = poses.frames[0]
    np.testing.assert_allclose(a.keypoints[0, :2], [[20, 20, 2], [60, 40, 1]])
    assert np.isnan(a.keypoints[0, 2, :2]).all() and a.keypoints[0, 2, 2] == 0  # 0 0 0 is missing
    np.testing.assert_allclose(a.keypoints[1, 2], [50, 75, 2])
    assert poses.frames[1].num_instances == 0 and poses.frames[2].num_instances == 1


def test_two_value_keypoints(tmp_path: Path) -> None:
    data = DATA | {"kpt_shape": [3, 2], "val": None}
    root = dataset(tmp_path, {"train/a.png": "0 0.5 0.5 0.2 0.2 0.1 0.2 0 0 0.5 0.5\n"}, data)
    f = load_poses(root).frames[0]
    assert f.present().tolist() == [[True, False, True]]
    np.testing.assert_allclose(f.keypoints[0, 2], [100, 50, 2])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.5 0.5 0.2 0.2 0.1 0.2 2 0.3 0.4 1", "line 2: has 11 values, expected 14"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.2 2 0.3 0.4 1 0 0 0 7", "line 2: has 15 values, expected 14"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.2 2 0.3 0.4 1 0 0 x", "line 2: holds a value that is not a number"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.2 2 0.3 0.4 1 0 0 5", "line 2: a keypoint visibility is not 0, 1 or 2"),
    ],
)
def test_bad_label_lines(line: str, message: str, tmp_path: Path) -> None:
    good = "0 0.5 0.5 0.2 0.2 0.1 0.2 2 0.3 0.4 1 0 0 0"
    root = dataset(tmp_path, {"train/a.png": f"{good}\n{line}\n"})
    with pytest.raises(AegroupError, match=message) as err:
        load_poses(root)
    assert "labels/train/a.txt" in str(err.value) and "\n" not in str(err.value)


def test_bad_data_yaml(tmp_path: Path) -> None:
    root = dataset(tmp_path, {}, DATA | {"kpt_shape": [3, 4]})
    with pytest.raises(AegroupError, match="field 'kpt_shape'"):
        load_poses(root)
    (root / "data.yaml").write_text(yaml.safe_dump(DATA | {"flip_idx": [0, 2, 2]}))
    with pytest.raises(AegroupError, match="field 'flip_idx'"):
        load_poses(root)
    (root / "data.yaml").write_text(yaml.safe_dump(DATA | {"train": "nowhere"}))
    with pytest.raises(AegroupError, match="split 'nowhere'"):
        load_poses(root)


def test_written_dataset(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=2, predicted=False)
    root = save_poses(poses, tmp_path / "yolo", to="yolo")
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert data["kpt_shape"] == [8, 3] and data["flip_idx"] == poses.schema.flip_index
    assert data["path"] == str(root.resolve()) and data["val"] == "images/train"
    lines = (root / "labels" / "train" / "000000.txt").read_text().splitlines()
    assert len(lines) == poses.frames[0].num_instances
    values = [float(v) for v in lines[0].split()]
    assert len(values) == 5 + 8 * 3 and values[0] == 0
    # The box holds every labelled joint of its instance.
    cx, cy, w, h = values[1:5]
    pts = np.array(values[5:]).reshape(8, 3)
    labelled = pts[pts[:, 2] > 0, :2]
    assert (labelled[:, 0] >= cx - w / 2).all() and (labelled[:, 0] <= cx + w / 2).all()
    assert (labelled[:, 1] >= cy - h / 2).all() and (labelled[:, 1] <= cy + h / 2).all()
    assert (root / "images" / "train" / "000000.png").is_file()

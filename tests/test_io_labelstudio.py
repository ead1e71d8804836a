"""Label Studio exports: instance grouping (parentID, relations, loose), tracks, predictions, image paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posesets import assert_same_poses, synthetic_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import load_poses, read_schema, save_poses
from aegroup.io.labelstudio import image_name


def point(rid: str, label: str, x: float, y: float, **extra: object) -> dict:
    value = {"x": x, "y": y, "width": 0.5, "keypointlabels": [label]}
    return {
        "id": rid,
        "type": "keypointlabels",
        "original_width": 200,
        "original_height": 100,
        "value": value,
    } | extra


def box(rid: str, label: str, **extra: object) -> dict:
    value = {"x": 0, "y": 0, "width": 50, "height": 50, "rectanglelabels": [label]}
    return {
        "id": rid,
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 100,
        "value": value,
    } | extra


def write(tmp_path: Path, tasks: list) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def test_groups_by_parent_by_relation_and_in_order(tmp_path: Path) -> None:
    result = [
        box("b1", "mouse1"),
        point("p1", "nose", 10, 20, parentID="b1"),
        point("p2", "tail", 30, 40, parentID="b1"),
        box("b2", "mouse2"),
        point("p3", "nose", 50, 60),
        {"type": "relation", "from_id": "p3", "to_id": "b2", "direction": "right"},
        point("p4", "nose", 1, 2),  # loose: one instance per repeated joint name
        point("p5", "tail", 3, 4),
        point("p6", "nose", 5, 6),
    ]
    tasks = [
        {
            "id": 7,
            "data": {"image": "/data/upload/3/1a2b3c4d-frame.png"},
            "annotations": [{"result": result}],
        },
        {"id": 8, "data": {"image": "unlabelled.png"}, "annotations": []},
    ]
    poses = load_poses(write(tmp_path, tasks))
    assert len(poses) == 1 and poses.schema.joints == ["nose", "tail"]
    f = poses.frames[0]
    assert (f.id, f.width, f.height, f.file_name) == (7, 200, 100, "frame.png")
    np.testing.assert_allclose(f.keypoints[0], [[20, 20, 2], [60, 40, 2]])  # percent of 200 x 100
    np.testing.assert_allclose(f.keypoints[1, 0], [100, 60, 2])
    assert f.present()[1].tolist() == [True, False]
    np.testing.assert_allclose(f.keypoints[2:, 0, :2], [[2, 2], [10, 6]])
    assert f.num_instances == 4
    assert poses.tracks == ["mouse1", "mouse2"] and f.track.tolist() == [0, 1, -1, -1]


def test_predictions_and_class_labels(tmp_path: Path) -> None:
    tasks = [
        {
            "id": 1,
            "data": {"image": "/data/local-files/?d=shots/a.png"},
            "annotations": [{"result": [box("u", "animal"), point("a", "nose", 10, 10, parentID="u")]}],
            "predictions": [
                {
                    "result": [
                        box("q", "animal", score=0.8),
                        point("b", "nose", 20, 10, parentID="q", score=0.5),
                        box("r", "animal", score=0.6),
                        point("c", "nose", 30, 10, parentID="r"),
                    ]
                }
            ],
        }
    ]
    f = load_poses(write(tmp_path, tasks)).frames[0]
    assert f.file_name == "shots/a.png"
    assert f.user.tolist() == [True, False, False]
    np.testing.assert_allclose(f.instance_score, [np.nan, 0.8, 0.6])
    np.testing.assert_allclose(f.scores[:, 0], [np.nan, 0.5, np.nan])
    assert (f.track == -1).all()  # 'animal' repeats within a task: a class, not an identity


def test_written_file_and_its_labelling_config(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=3)
    path = save_poses(poses, tmp_path / "out" / "tasks.json", to="labelstudio")
    config = path.with_suffix(".xml").read_text()
    assert '<KeyPointLabels name="keypoints" toName="image">' in config and 'value="tail_tip"' in config
    tasks = json.loads(path.read_text())
    assert tasks[0]["data"]["image"] == "../s/images/000000.png"
    assert "predictions" in tasks[-1] and "predictions" not in tasks[0]
    kids = [r for r in tasks[0]["annotations"][0]["result"] if r["type"] == "keypointlabels"]
    assert all(r["parentID"].startswith("f1i") for r in kids)
    assert read_schema(path).joints == poses.schema.joints  # order from the config beside the export
    assert_same_poses(poses, load_poses(path), occluded=False)


def test_reads_what_sleap_io_writes(tmp_path: Path) -> None:
    sio = pytest.importorskip("sleap_io")
    skeleton = sio.Skeleton(["head", "tail"])
    video = sio.Video(filename="fly.mp4", backend_metadata={"shape": [10, 100, 200, 1]}, open_backend=False)
    instances = [
        sio.Instance.from_numpy(np.array([[10.5, 20.25], [30.0, np.nan]]), skeleton=skeleton),
        sio.Instance.from_numpy(np.array([[50.0, 60.0], [70.0, 80.0]]), skeleton=skeleton),
    ]
    labels = sio.Labels([sio.LabeledFrame(video=video, frame_idx=4, instances=instances)])
    path = tmp_path / "sleap.json"
    sio.save_labelstudio(labels, str(path))
    poses = load_poses(path)
    f = poses.frames[0]
    assert f.frame_index == 4 and poses.videos[0].path.endswith("fly.mp4") and f.num_instances == 2
    order = np.argsort(f.keypoints[:, 0, 0])
    np.testing.assert_allclose(
        f.keypoints[order, :, :2], [[[10.5, 20.25], [np.nan, np.nan]], [[50, 60], [70, 80]]]
    )
    assert f.present()[order].tolist() == [[True, False], [True, True]]


def test_task_without_keypoints_is_an_error(tmp_path: Path) -> None:
    tasks = [
        {
            "id": 1,
            "data": {"image": "a.png"},
            "annotations": [{"result": [box("b", "x"), point("p", "nose", 1, 1)]}],
        },
        {"id": 2, "data": {"image": "b.png"}, "annotations": [{"result": [box("c", "x")]}]},
    ]
    with pytest.raises(AegroupError, match=r"task 2: field 'annotations\[0\]\.result' has no keypointlabels"):
        load_poses(write(tmp_path, tasks))
    only_boxes = [tasks[1]]
    with pytest.raises(AegroupError, match="no task has keypointlabels"):
        load_poses(write(tmp_path, only_boxes))


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/data/local-files/?d=dataset/img%201.png", "dataset/img 1.png"),
        ("/data/upload/12/0a1b2c3d-photo.jpg", "photo.jpg"),
        ("https://example.org/bucket/x/frame_01.png?sig=abc", "frame_01.png"),
        ("s3://bucket/a/b.png", "b.png"),
        ("images/c.png", "images/c.png"),
    ],
)
def test_image_name(url: str, name: str) -> None:
    assert image_name(url) == name

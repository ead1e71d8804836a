"""Round trips of synthetic pose sets through every format: COCO -> X -> COCO, and PoseSet -> X -> PoseSet."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from posesets import TRACKS, assert_same_poses, critter, synthetic_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import (
    FORMATS,
    detect_format,
    format_for_destination,
    load_poses,
    read_schema,
    save_poses,
)
from aegroup.io.poses import Frame, PoseSet


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> PoseSet:
    """Tracks, occluded joints, removed joints, and a frame of predictions with scores."""
    return synthetic_poses(tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="module")
def coco_file(full: PoseSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_poses(full, tmp_path_factory.mktemp("coco") / "labels.json")


def test_coco_keeps_everything(full: PoseSet, coco_file: Path) -> None:
    back = load_poses(coco_file)
    assert_same_poses(full, back)
    data = json.loads(coco_file.read_text())
    assert data["tracks"] == [{"id": i, "name": n} for i, n in enumerate(TRACKS)]
    predicted = [a for a in data["annotations"] if "score" in a]
    assert predicted and all(len(a["keypoint_scores"]) == 8 for a in predicted)
    # Absent joints are 0, 0, 0 in the file and NaN once read: never a visible point at (0, 0).
    assert any(a["keypoints"][3:6] == [0, 0, 0] for a in data["annotations"])
    assert back.schema.flip_pairs == critter().flip_pairs


@pytest.mark.parametrize(
    ("fmt", "dst", "keeps"),
    [
        ("slp", "labels.slp", {}),
        ("dlc", "dlc_project", {"occluded": False, "predictions": False}),
        ("yolo", "yolo_set", {"tracks": False, "predictions": False}),
        ("labelstudio", "tasks.json", {"occluded": False}),
        ("results", "results.json", {}),
    ],
)
def test_coco_to_format_and_back(
    fmt: str, dst: str, keeps: dict[str, bool], full: PoseSet, coco_file: Path, tmp_path: Path
) -> None:
    source = load_poses(coco_file)
    written = save_poses(source, tmp_path / dst, to=fmt)
    assert detect_format(written) == fmt
    middle = load_poses(written)
    assert_same_poses(full, middle, **keeps)
    back = load_poses(save_poses(middle, tmp_path / "back.json"))
    assert_same_poses(full, back, **keeps)
    assert back.schema.joints == full.schema.joints


def test_dlc_and_yolo_write_user_instances_over_predictions(full: PoseSet, tmp_path: Path) -> None:
    # One frame holds a user instance and a prediction of the same animal (SLEAP's corrected frames).
    f = full.frames[0]
    both = Frame.build(
        f.id,
        f.width,
        f.height,
        np.concatenate([f.keypoints[:1], f.keypoints[:1]]),
        track=[0, -1],
        user=[True, False],
        file_name=f.file_name,
    )
    poses = replace(full, frames=[both], tracks=["alpha"])
    for fmt in ("dlc", "yolo"):
        back = load_poses(save_poses(poses, tmp_path / fmt, to=fmt))
        assert back.frames[0].num_instances == 1 and back.frames[0].user.all()


@pytest.mark.parametrize("fmt", ["slp", "dlc", "labelstudio", "yolo", "coco"])
def test_schema_from_written_file(fmt: str, full: PoseSet, tmp_path: Path) -> None:
    written = save_poses(
        full, tmp_path / ("x.slp" if fmt == "slp" else "x.json" if fmt != "dlc" else "x"), to=fmt
    )
    schema = read_schema(written)
    assert schema.joints == critter().joints
    assert sorted(map(sorted, schema.flip_pairs)) == sorted(map(sorted, critter().flip_pairs))
    if fmt in ("slp", "dlc", "yolo", "coco"):
        assert sorted(map(sorted, schema.edges)) == sorted(map(sorted, critter().edges))


def test_destination_format_and_detection_errors(tmp_path: Path) -> None:
    assert format_for_destination("a/b.json") == "coco"
    assert format_for_destination("a/b.slp") == "slp"
    assert format_for_destination("a/b", "dlc") == "dlc"
    with pytest.raises(AegroupError, match="--to"):
        format_for_destination("a/folder")
    with pytest.raises(AegroupError, match="read-only"):
        format_for_destination("a/b.aeproj", "project")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(AegroupError, match="not a pose file"):
        detect_format(tmp_path / "x.txt")
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(AegroupError, match="neither COCO"):
        detect_format(tmp_path / "x.json")
    assert set(FORMATS) >= {"coco", "slp", "dlc", "labelstudio", "yolo", "results", "project"}


def test_images_override_and_folder_guess(full: PoseSet, coco_file: Path, tmp_path: Path) -> None:
    # synthesize() writes annotations.json beside images/: the reader finds the images there.
    source = Path(str(full.image_dir))
    assert (source / full.frames[0].file_name).is_file()
    moved = load_poses(coco_file, images=source)
    assert moved.image_dir == source
    with pytest.raises(AegroupError, match="--images"):
        load_poses(coco_file, images=tmp_path / "nowhere")


# Property test: any PoseSet survives the JSON formats (COCO, Label Studio, results) unchanged.

K = 4
SCHEMA = critter().model_copy(
    update={"name": "bit", "joints": ["a_left", "a_right", "mid", "end"], "edges": [], "flip_pairs": []}
)


@st.composite
def pose_sets(draw: st.DrawFn) -> PoseSet:
    frames = []
    for fid in range(1, draw(st.integers(1, 4)) + 1):
        w, h = draw(st.integers(8, 2000)), draw(st.integers(8, 2000))
        n = draw(st.integers(1, 3))
        xs = draw(st.lists(st.floats(-5, w + 5, allow_nan=False), min_size=n * K, max_size=n * K))
        ys = draw(st.lists(st.floats(-5, h + 5, allow_nan=False), min_size=n * K, max_size=n * K))
        vis = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=n * K, max_size=n * K))
        kp = np.column_stack([xs, ys, vis]).astype(float).reshape(n, K, 3)
        kp[:, 0, 2] = np.maximum(kp[:, 0, 2], 1)  # every instance has a labelled joint
        user = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        kp[~np.array(user), :, 2] *= kp[~np.array(user), :, 2] != 1  # predictions: found or not, no v = 1
        kp[~np.array(user), 0, 2] = 2
        score = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
        scores = draw(st.lists(st.floats(0.01, 1), min_size=n * K, max_size=n * K))
        track = draw(st.permutations(range(3)))[:n]
        frames.append(
            Frame.build(
                fid,
                w,
                h,
                kp,
                user=user,
                track=track,
                file_name=f"img{fid}.png",
                instance_score=[np.nan if u else s for u, s in zip(user, score, strict=True)],
                scores=np.where(np.array(user)[:, None], np.nan, np.reshape(scores, (n, K))),
            )
        )
    return PoseSet(SCHEMA, frames, tracks=["t0", "t1", "t2"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(poses=pose_sets())
def test_property_json_formats_round_trip(poses: PoseSet, tmp_path: Path) -> None:
    poses = replace(poses, image_dir=tmp_path)
    for fmt, name, keeps in (
        ("coco", "c.json", {}),
        ("results", "r.json", {}),
        ("labelstudio", "l.json", {"occluded": False}),
    ):
        back = load_poses(save_poses(poses, tmp_path / name, to=fmt), schema=SCHEMA)
        used = {int(t) for f in poses.frames for t in f.track}
        # Label Studio names tracks by box labels: it keeps them when two or more are in use.
        tracks = fmt != "labelstudio" or len(used) > 1
        if fmt == "labelstudio" and tracks:
            back = replace(
                back,
                tracks=poses.tracks,
                frames=[
                    replace(f, track=np.array([poses.tracks.index(back.tracks[t]) for t in f.track]))
                    for f in back.frames
                ],
            )
        assert_same_poses(poses, back, tracks=tracks, **keeps)


def test_reading_formats_imports_no_optional_or_heavy_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import aegroup.io.formats, aegroup.cli.convert\n"
        "heavy = [m for m in ('torch', 'sleap_io', 'av', 'pandas', 'tables') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_extra_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sleap_io", None)  # what an uninstalled package looks like to import
    (tmp_path / "x.slp").write_bytes(b"")
    with pytest.raises(
        AegroupError, match=r"reading SLEAP files needs sleap_io: pip install 'aegroup\[formats\]'"
    ):
        load_poses(tmp_path / "x.slp")

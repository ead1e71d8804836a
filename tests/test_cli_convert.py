"""`aegroup convert` and `aegroup schema from`: round trips, the shared clip, and every bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import real_data_root
from posesets import assert_same_poses, synthetic_poses, video_poses

from aegroup.io.formats import load_poses, save_poses
from aegroup.schema import load_schema


def one_error_line(result: object, *needles: str) -> str:
    """The single `error: ...` line of a failed run (exit code 2), checked to contain `needles`."""
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err + result.out
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_help(cli) -> None:
    assert cli("convert", "--help").code == 0
    assert cli("schema", "from", "--help").code == 0


def test_convert_chain_through_the_cli(cli, tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=3)
    coco = save_poses(poses, tmp_path / "start.json")
    steps = [
        ("labels.slp", []),
        ("dlc", ["--to", "dlc"]),
        ("ls.json", ["--to", "labelstudio"]),
        ("yolo", ["--to", "yolo"]),
        ("end.json", []),
    ]
    source = coco
    for name, options in steps:
        result = cli("convert", source, tmp_path / name, *options)
        assert result.code == 0, result.err
        assert result.out.startswith(f"wrote {tmp_path / name} (")
        source = tmp_path / name
    first = cli("convert", coco, tmp_path / "copy.json").out.strip()
    assert first.endswith(f"{len(poses)} frames, {poses.num_instances} instances, 3 tracks")
    assert_same_poses(
        poses, load_poses(tmp_path / "end.json"), occluded=False, tracks=False, predictions=False
    )


def test_schema_from(cli, tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=1)
    project = save_poses(poses, tmp_path / "dlc", to="dlc")
    result = cli("schema", "from", project / "config.yaml")
    assert result.code == 0
    (tmp_path / "schema.yaml").write_text(result.out)
    schema = load_schema(tmp_path / "schema.yaml")
    assert schema.joints == poses.schema.joints and schema.flip_pairs == poses.schema.flip_pairs
    one_error_line(cli("schema", "from", tmp_path / "nothing.slp"), "nothing.slp", "file not found")


# Bad input: one line, exit code 2, and nothing written.


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def nothing_in(folder: Path) -> bool:
    return not any(folder.iterdir())


def test_slp_whose_video_is_missing(cli, tmp_path: Path, out: Path) -> None:
    poses = video_poses(tmp_path / "v")
    slp = save_poses(poses, tmp_path / "labels.slp")
    video = Path(poses.videos[0].path)
    hidden = video.rename(tmp_path / "elsewhere.mp4")
    one_error_line(cli("convert", slp, out / "x.json"), "clip.mp4", "--video")
    assert nothing_in(out)
    assert cli("convert", slp, out / "x.json", "--video", hidden).code == 0
    assert len(list((out / "x_frames" / "elsewhere").glob("*.png"))) == len(poses)


def test_video_that_cannot_be_decoded(cli, tmp_path: Path, out: Path) -> None:
    slp = save_poses(video_poses(tmp_path / "v"), tmp_path / "labels.slp")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01garbage" * 500)
    one_error_line(cli("convert", slp, out / "x.json", "--video", junk), "junk.mp4", "cannot")
    assert nothing_in(out)


def test_frame_past_the_end_of_the_video(cli, tmp_path: Path, out: Path) -> None:
    poses = video_poses(tmp_path / "v")
    poses = replace(poses, frames=[*poses.frames, replace(poses.frames[-1], id=50, frame_index=1000)])
    slp = save_poses(poses, tmp_path / "labels.slp")
    for dst, options in (("x.json", []), ("dlc", ["--to", "dlc"]), ("yolo", ["--to", "yolo"])):
        one_error_line(cli("convert", slp, out / dst, *options), "frame 1000 is outside 0..39")
        assert nothing_in(out)


def test_corrupt_or_truncated_slp_and_h5(cli, tmp_path: Path, out: Path) -> None:
    slp = save_poses(synthetic_poses(tmp_path / "s", images=2), tmp_path / "labels.slp")
    cut = tmp_path / "cut.slp"
    cut.write_bytes(slp.read_bytes()[: slp.stat().st_size // 2])
    one_error_line(cli("convert", cut, out / "x.json"), "cut.slp", "not a readable SLEAP file")
    project = save_poses(
        synthetic_poses(tmp_path / "t", images=2, predicted=False), tmp_path / "dlc", to="dlc"
    )
    h5 = project / "labeled-data" / "images" / "CollectedData_aegroup.h5"
    broken = tmp_path / "CollectedData_me.h5"
    broken.write_bytes(h5.read_bytes()[:4000])
    one_error_line(cli("convert", broken, out / "x.json"), "CollectedData_me.h5", "not a readable")
    assert nothing_in(out)


def test_dlc_csv_with_a_wrong_header(cli, tmp_path: Path, out: Path) -> None:
    csv = tmp_path / "CollectedData_me.csv"
    csv.write_text("scorer,me,me\nparts,nose,nose\ncoords,x,y\nimg.png,1,2\n")
    one_error_line(cli("convert", csv, out / "x.json"), "CollectedData_me.csv", "field 'header'")
    assert nothing_in(out)


def test_label_studio_task_without_keypoints(cli, tmp_path: Path, out: Path) -> None:
    rect = {"id": "r", "type": "rectanglelabels", "original_width": 10, "original_height": 10, "value": {}}
    tasks = [{"id": 3, "data": {"image": "a.png"}, "annotations": [{"result": [rect]}]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    one_error_line(cli("convert", path, out / "x.json"), "export.json", "keypointlabels")
    assert nothing_in(out)


def test_yolo_label_line_with_wrong_number_of_values(cli, tmp_path: Path, out: Path) -> None:
    root = save_poses(
        synthetic_poses(tmp_path / "s", images=2, predicted=False), tmp_path / "yolo", to="yolo"
    )
    label = root / "labels" / "train" / "000001.txt"
    label.write_text(label.read_text() + "0 0.5 0.5 0.1 0.1 0.2\n")
    one_error_line(cli("convert", root, out / "x.json"), "000001.txt", "line", "values, expected 29")
    assert nothing_in(out)


def test_destination_problems(cli, tmp_path: Path, out: Path) -> None:
    coco = save_poses(synthetic_poses(tmp_path / "s", images=1), tmp_path / "c.json")
    one_error_line(cli("convert", coco, out / "folder"), "--to")
    one_error_line(cli("convert", coco, out / "x.json", "--to", "mat"), "--to", "mat")
    (out / "taken").mkdir()
    (out / "taken" / "mine.txt").write_text("keep me")
    one_error_line(cli("convert", coco, out / "taken", "--to", "dlc"), "not an empty folder")
    assert (out / "taken" / "mine.txt").read_text() == "keep me"
    one_error_line(cli("convert", tmp_path / "none.slp", out / "x.json"), "none.slp", "not found")


# The shared real clip: 1,500 frames of 2 flies (skipped when the data folder is absent).


@pytest.fixture(scope="module")
def clip() -> Path:
    path = real_data_root() / "sleap" / "clip.slp"
    if not path.is_file():
        pytest.skip(f"real test data not found at {path} (set AEGROUP_TEST_DATA to the shared data folder)")
    return path


@pytest.mark.slow
def test_clip_to_coco_dlc_and_yolo(cli, clip: Path, tmp_path: Path) -> None:
    sio = pytest.importorskip("sleap_io")
    result = cli("convert", clip, tmp_path / "clip.json")
    assert result.code == 0, result.err
    assert result.out.strip().endswith("1500 frames, 3000 instances, 2 tracks")
    coco = json.loads((tmp_path / "clip.json").read_text())
    assert len(coco["images"]) == 1500 and len(coco["annotations"]) == 3000
    assert [t["name"] for t in coco["tracks"]] == ["female", "male"]
    frames = sorted((tmp_path / "clip_frames" / "clip").glob("*.png"))
    assert len(frames) == 1500 and frames[-1].name == "001499.png"
    # Coordinates as sleap-io reads them; missing points stay missing (0, 0, 0), never visible at (0, 0).
    labels = sio.load_slp(str(clip), open_videos=False)
    by_image = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    missing = 0
    for n in (0, 3, 777, 1499):
        lf, image = labels.labeled_frames[n], coco["images"][n]
        assert (
            image["frame_index"] == lf.frame_idx
            and image["file_name"] == f"clip_frames/clip/{lf.frame_idx:06d}.png"
        )
        for inst, ann in zip(lf.instances, by_image[image["id"]], strict=True):
            kp = np.array(ann["keypoints"], float).reshape(-1, 3)
            xy = inst.numpy()
            absent = np.isnan(xy[:, 0])
            np.testing.assert_allclose(kp[~absent, :2], xy[~absent], atol=1e-3)
            assert (kp[absent] == 0).all() and (kp[~absent, 2] == 2).all()
            assert coco["tracks"][ann["track_id"]]["name"] == inst.track.name
    for ann in coco["annotations"]:
        missing += ann["keypoints"][2::3].count(0)
    assert missing == sum(int(np.isnan(i.numpy()[:, 0]).sum()) for lf in labels for i in lf.instances) > 0
    # The written frames are what the video shows at those indices.
    from PIL import Image

    from aegroup.io.video import VideoReader

    with VideoReader(clip.parent / "clip.mp4") as reader:
        for i in (0, 1234):
            written = np.asarray(Image.open(tmp_path / "clip_frames" / "clip" / f"{i:06d}.png"))
            assert np.array_equal(written, reader.read(i)[..., 0])
    # From there to a DeepLabCut project and a YOLO set (the PNGs are linked, not decoded again).
    for dst, to in (("dlc", "dlc"), ("yolo", "yolo")):
        result = cli("convert", tmp_path / "clip.json", tmp_path / dst, "--to", to)
        assert result.code == 0, result.err
    dlc = load_poses(tmp_path / "dlc")
    assert (len(dlc), dlc.num_instances, dlc.tracks) == (1500, 3000, ["female", "male"])
    cfg = yaml.safe_load((tmp_path / "dlc" / "config.yaml").read_text())
    assert cfg["individuals"] == ["female", "male"] and len(cfg["multianimalbodyparts"]) == 13
    assert (tmp_path / "dlc" / "labeled-data" / "clip" / "img1499.png").is_file()
    yolo = load_poses(tmp_path / "yolo")
    assert (len(yolo), yolo.num_instances) == (1500, 3000)
    original = load_poses(clip)
    assert_same_poses(original, dlc)
    assert_same_poses(original, yolo, tracks=False)

"""Video-backed labels to image formats: labelled frames written as PNG, frame-accurate, all or nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from posesets import LABELLED, assert_same_poses, critter, frame_number, video_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import load_poses, save_poses
from aegroup.io.frames import default_frames_dir, save_png
from aegroup.io.poses import Frame, PoseSet


@pytest.fixture(scope="module")
def on_video(tmp_path_factory: pytest.TempPathFactory) -> PoseSet:
    return video_poses(tmp_path_factory.mktemp("video"))


def shown_frame(path: Path) -> int:
    """The frame number a written PNG shows."""
    return frame_number(np.asarray(Image.open(path).convert("RGB")))


@pytest.mark.parametrize(("fmt", "name"), [("coco", "labels.json"), ("labelstudio", "tasks.json")])
def test_json_formats_write_frames_beside_and_keep_the_video(
    fmt: str, name: str, on_video: PoseSet, tmp_path: Path
) -> None:
    dst = tmp_path / "out" / name
    save_poses(on_video, dst, to=fmt)
    frames = default_frames_dir(dst)
    assert frames == tmp_path / "out" / f"{dst.stem}_frames"
    written = sorted((frames / "clip").glob("*.png"))
    assert [p.name for p in written] == [f"{i:06d}.png" for i in LABELLED]
    assert [shown_frame(p) for p in written] == LABELLED  # frame-accurate decoding
    back = load_poses(dst)
    assert_same_poses(on_video, back, occluded=fmt != "labelstudio")
    assert [f.file_name for f in back.frames] == [f"{dst.stem}_frames/clip/{i:06d}.png" for i in LABELLED]
    # The frames still know their video: to .slp they are video frames again.
    assert [f.frame_index for f in back.frames] == LABELLED
    assert Path(back.videos[0].path).resolve() == Path(on_video.videos[0].path).resolve()
    again = load_poses(save_poses(back, tmp_path / "again.slp"))
    assert [(f.video, f.frame_index) for f in again.frames] == [(0, i) for i in LABELLED]


def test_frames_dir_option(on_video: PoseSet, tmp_path: Path) -> None:
    dst = save_poses(on_video, tmp_path / "a" / "labels.json", frames_dir=tmp_path / "elsewhere")
    back = load_poses(dst)
    assert back.frames[0].file_name == "../elsewhere/clip/000003.png"
    assert (tmp_path / "elsewhere" / "clip" / "000003.png").is_file()


def test_dlc_and_yolo_put_frames_in_their_layout(on_video: PoseSet, tmp_path: Path) -> None:
    save_poses(on_video, tmp_path / "dlc", to="dlc")
    dlc_images = sorted((tmp_path / "dlc" / "labeled-data" / "clip").glob("img*.png"))
    assert [p.name for p in dlc_images] == sorted(f"img{i:02d}.png" for i in LABELLED)  # 40 frames: 2 digits
    assert [shown_frame(p) for p in dlc_images] == sorted(LABELLED)
    assert_same_poses(on_video, load_poses(tmp_path / "dlc"), tracks=True)
    save_poses(on_video, tmp_path / "yolo", to="yolo")
    yolo_images = sorted((tmp_path / "yolo" / "images" / "train").glob("*.png"))
    assert [p.name for p in yolo_images] == [f"clip_{i:06d}.png" for i in LABELLED]
    assert [shown_frame(p) for p in yolo_images] == LABELLED
    assert_same_poses(on_video, load_poses(tmp_path / "yolo"), tracks=False)


def test_slp_keeps_video_frames(on_video: PoseSet, tmp_path: Path) -> None:
    back = load_poses(save_poses(on_video, tmp_path / "labels.slp"))
    assert_same_poses(on_video, back)
    assert [f.frame_index for f in back.frames] == LABELLED and back.videos[0].frames == 40
    assert all(f.file_name is None for f in back.frames)


@pytest.mark.parametrize(
    ("fmt", "name"), [("coco", "x.json"), ("labelstudio", "x.json"), ("dlc", "d"), ("yolo", "y")]
)
def test_a_frame_past_the_end_writes_nothing(fmt: str, name: str, on_video: PoseSet, tmp_path: Path) -> None:
    bad = replace(on_video.frames[-1], id=99, frame_index=400)
    poses = replace(on_video, frames=[*on_video.frames, bad])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AegroupError, match=r"clip\.mp4: frame 400 is outside 0\.\.39"):
        save_poses(poses, out / name, to=fmt)
    assert list(out.iterdir()) == []  # no file, no frames folder, no temporary left behind


def test_missing_video_names_the_path_and_the_option(on_video: PoseSet, tmp_path: Path) -> None:
    gone = replace(on_video, videos=[replace(on_video.videos[0], path=str(tmp_path / "moved.mp4"))])
    with pytest.raises(
        AegroupError, match=r"moved\.mp4: video file not found \(give the video's path with --video\)"
    ):
        save_poses(gone, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_png_is_grey_when_the_frame_is(tmp_path: Path) -> None:
    grey = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4, 1), 3, axis=2)
    save_png(grey, tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "L"
    colour = grey.copy()
    colour[0, 0, 1] = 200
    save_png(colour, tmp_path / "c.png")
    image = Image.open(tmp_path / "c.png")
    assert image.mode == "RGB" and np.array_equal(np.asarray(image), colour)


def test_image_frames_are_renamed_relative_to_the_destination(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (8, 6)).save(tmp_path / "imgs" / "a.png")
    schema = critter()
    kp = np.zeros((1, 8, 3))
    kp[0, 0] = (1, 2, 2)
    poses = PoseSet(schema, [Frame.build(1, 8, 6, kp, file_name="a.png")], image_dir=tmp_path / "imgs")
    back = load_poses(save_poses(poses, tmp_path / "deep" / "er" / "x.json"))
    assert back.frames[0].file_name == "../../imgs/a.png"
    assert (back.image_dir / back.frames[0].file_name).resolve() == (tmp_path / "imgs" / "a.png").resolve()

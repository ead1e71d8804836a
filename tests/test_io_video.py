"""VideoReader: frame-accurate random and sequential reads, pickling, bad files; parse_frame_range."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from posesets import FRAMES, H, W, encode, frame_number

from aegroup.errors import AegroupError
from aegroup.io.video import VideoReader, is_video, parse_frame_range


@pytest.fixture(scope="module", params=[("libx264", "h264.mp4"), ("mpeg4", "mpeg4.avi")])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-frame 64 x 48 video (H.264 with B-frames, or MPEG-4 part 2) with a keyframe every 10 frames."""
    codec, name = request.param
    return encode(tmp_path_factory.mktemp("video") / name, codec, gop=10)


def test_metadata(video: Path) -> None:
    reader = VideoReader(video)
    assert (reader.frames, reader.width, reader.height) == (FRAMES, W, H)
    assert reader.fps == pytest.approx(25)
    assert is_video(video) and not is_video(video.with_suffix(".png"))


def test_sequential_reads_every_frame_in_order(video: Path) -> None:
    with VideoReader(video) as reader:
        assert [frame_number(reader.read(i)) for i in range(FRAMES)] == list(range(FRAMES))


def test_random_access_is_frame_accurate(video: Path) -> None:
    rng = np.random.default_rng(0)
    order = [39, 0, 17, 16, 18, 5, 5, 38, 9, 10, 11, 30, 2, *rng.integers(0, FRAMES, 20).tolist()]
    with VideoReader(video) as reader:
        for i in order:
            pixels = reader.read(i)
            assert pixels.shape == (H, W, 3) and pixels.dtype == np.uint8
            assert frame_number(pixels) == i


class CountingContainer:
    """A PyAV container that counts its seeks (PyAV's own attributes cannot be replaced)."""

    def __init__(self, container: object) -> None:
        self.container, self.seeks = container, 0

    def seek(self, *args: object, **kwargs: object) -> object:
        self.seeks += 1
        return self.container.seek(*args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.container, name)


def test_forward_steps_within_a_group_decode_on_without_seeking(video: Path) -> None:
    reader = VideoReader(video)
    keys = np.flatnonzero(reader._keyframe).tolist()
    assert keys[0] == 0 and len(keys) >= 3  # the encoder's groups of pictures (at most 10 frames)
    reader.read(1)
    counting = CountingContainer(reader._container)
    reader._container = counting
    inside = [2, keys[1] - 2, keys[1] - 1]  # later frames of the group that starts at keyframe 0
    assert [frame_number(reader.read(i)) for i in inside] == inside
    assert counting.seeks == 0
    assert frame_number(reader.read(keys[2] + 1)) == keys[2] + 1
    assert counting.seeks == 1  # across keyframes: one seek, to the nearest
    assert frame_number(reader.read(1)) == 1
    assert counting.seeks == 2  # backwards: a seek
    reader.close()


def test_pickled_reader_reopens_in_the_copy(video: Path) -> None:
    reader = VideoReader(video)
    reader.read(12)
    copy = pickle.loads(pickle.dumps(reader))
    assert copy._container is None
    assert frame_number(copy.read(13)) == 13 and frame_number(reader.read(13)) == 13
    reader.close()
    copy.close()


def test_past_the_end_and_negative_frames(video: Path) -> None:
    reader = VideoReader(video)
    for index in (FRAMES, -1, 10_000):
        with pytest.raises(AegroupError, match=f"frame {index} is outside 0..{FRAMES - 1}"):
            reader.read(index)


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(AegroupError, match="video file not found"):
        VideoReader(tmp_path / "none.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AegroupError, match=r"junk\.mp4: cannot"):
        VideoReader(junk)


def test_truncated_video_reads_what_it_has_then_fails_in_one_line(tmp_path: Path) -> None:
    # The frame table of a 'faststart' MP4 comes first, so a cut file still lists frames it lacks.
    whole = encode(tmp_path / "whole.mp4", "libx264", gop=10, options={"movflags": "faststart"})
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    reader = VideoReader(cut)
    read = []
    with pytest.raises(AegroupError) as err:
        for i in range(reader.frames):
            read.append(frame_number(reader.read(i)))
    assert read == list(range(len(read))) and read
    assert "cut.mp4: frame" in str(err.value) and "\n" not in str(err.value)
    half = tmp_path / "half.mp4"
    half.write_bytes(encode(tmp_path / "plain.mp4", "libx264", gop=10).read_bytes()[:3000])
    with pytest.raises(AegroupError, match=r"half\.mp4"):
        VideoReader(half)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:10", range(0, 10)),
        ("5", range(5, 6)),
        (":", range(0, 40)),
        ("10:", range(10, 40)),
        (":40:8", range(0, 40, 8)),
        ("3:9:2", range(3, 9, 2)),
    ],
)
def test_parse_frame_range(text: str, expected: range) -> None:
    assert parse_frame_range(text, 40) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("40", "past the end"),
        ("0:41", "past the end"),
        ("a:b", "expected integers"),
        ("1:2:3:4", "expected START:STOP"),
        ("0:10:0", "STEP must be positive"),
        ("-1:5", "must not be negative"),
        ("5:5", "selects no frames"),
    ],
)
def test_parse_frame_range_errors(text: str, message: str) -> None:
    with pytest.raises(AegroupError, match=message):
        parse_frame_range(text, 40)

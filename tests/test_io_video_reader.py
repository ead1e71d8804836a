"""VideoReader random access: any order of reads returns the frames a plain sequential decode gives."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from conftest import encode_video

from aegroup.io.video import VideoReader

av = pytest.importorskip("av")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A 23-frame clip (keyframe every 5 frames, B-frames) and its frames decoded one after the other."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(23)]
    path = encode_video(tmp_path_factory.mktemp("clip") / "clip.mp4", frames)
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return path, decoded


def test_reads_in_any_order_match_the_sequential_decode(clip) -> None:
    path, expected = clip
    reader = VideoReader(path)
    assert reader.frames == len(expected) == 23
    order = [0, 1, 3, 4, 4, 2, 7, 9, 6, 22, 10, 14, 15, 21, 5, 0, 11, 12, 13, 20, 19, 8]
    order += list(np.random.default_rng(2).permutation(23))
    for index in order:
        np.testing.assert_array_equal(reader.read(int(index)), expected[index], err_msg=f"frame {index}")


def test_forward_reads_within_a_keyframe_interval_decode_on(clip) -> None:
    path, _ = clip
    reader = VideoReader(path)
    assert np.flatnonzero(reader._keyframe).tolist() == [0, 5, 10, 15, 20]

    def seeks(index: int) -> bool:
        """Read a frame; whether the reader seeked (a seek starts a new decoding pass)."""
        before = reader._frames
        reader.read(index)
        return reader._frames is not before

    # Frames 1 -> 2 decode on; 2 -> 7 passes keyframe 5 and 8 -> 11 keyframe 10, where a seek lands nearer;
    # backwards always seeks; 4 -> 5 and 5 -> 9 decode on (from keyframe 5, the next unread frame, onwards).
    reads = [1, 2, 7, 8, 11, 12, 4, 5, 9]
    expected = [True, False, True, False, True, False, True, False, False]
    assert [seeks(i) for i in reads] == expected


def _read_in_child(reader: VideoReader, indices: list[int], queue: multiprocessing.Queue) -> None:
    queue.put([reader.read(i) for i in indices])


def test_a_forked_copy_reads_with_its_own_decoder(clip) -> None:
    path, expected = clip
    reader = VideoReader(path)
    reader.read(2)  # the parent's decoder is open and mid-way when the child is forked
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(reader, [3, 12, 4], queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    for frame, index in zip(got, [3, 12, 4], strict=True):
        np.testing.assert_array_equal(frame, expected[index])
    np.testing.assert_array_equal(reader.read(3), expected[3])  # the parent carries on where it was

"""`aegroup predict VIDEO`: frame ranges, results per frame (as their PNG files would give), SLEAP
predictions, tracking in the same run, the shared fly clip, and bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import real_data_root
from oracle_network import SCHEMA, Oracle, draw
from track_scenes import animal_poses

from aegroup.io.formats import load_poses, read_schema
from aegroup.io.results import load_results
from aegroup.predict import Predictor
from aegroup.predict.output import Output
from aegroup.predict.video import open_video, run_video_prediction
from aegroup.track import MotionParams

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CPU = ("--device", "cpu", "--batch", "2")


def test_frames_are_predicted_as_their_png_files_would_be(
    onnx_checkpoint, synth_video, tmp_path, cli
) -> None:
    """--frames START:STOP:STEP picks the frames; each is one image entry (video, frame number, the PNG
    name of the formats), with candidates, and the same instances as the decoded frame saved as PNG."""
    _, _, clip = synth_video
    out = tmp_path / "out" / "video.json"
    result = cli("predict", onnx_checkpoint, clip, "--frames", "1:14:4", "--out", out, *CPU)
    assert result.code == 0, result.err
    assert result.out.startswith(f"wrote {out}: 4 frames, ") and "frames/s" in result.out
    video = load_results(out)
    assert [im.frame_index for im in video.images] == [1, 5, 9, 13]
    assert [im.id for im in video.images] == [2, 6, 10, 14]
    assert {im.video for im in video.images} == {Path(os.path.relpath(clip, out.parent)).as_posix()}
    assert [im.file_name for im in video.images] == [f"clip/{j:06d}.png" for j in (1, 5, 9, 13)]
    assert video.candidates is not None and [r.image_id for r in video.candidates] == [2, 6, 10, 14]
    folder = tmp_path / "pngs"
    folder.mkdir()
    for j in (1, 5, 9, 13):
        shutil.copy(clip.parent / f"frame_{j:03d}.png", folder)
    assert cli("predict", onnx_checkpoint, folder, "--out", tmp_path / "png.json", *CPU).code == 0
    pngs = load_results(tmp_path / "png.json")
    assert len(video.annotations) == len(pngs.annotations) >= 4
    for frame, image in zip(video.images, pngs.images, strict=True):
        got, want = video.annotations_for(frame.id), pngs.annotations_for(image.id)
        assert [(a.keypoints, a.score, a.tags) for a in got] == [(a.keypoints, a.score, a.tags) for a in want]


def test_track_and_slp_output_in_one_run(onnx_checkpoint, synth_video, tmp_path, cli) -> None:
    """--track --max-tracks 2: the results file has tracks, track ids and doubts, at most two instances a
    frame; --out x.slp writes the same as SLEAP predictions (instance and point scores, tracks, video)."""
    _, _, clip = synth_video
    args = ("--frames", "0:8", "--track", "--max-tracks", "2", "--window", "3", *CPU)
    result = cli("predict", onnx_checkpoint, clip, "--out", tmp_path / "r.json", *args)
    assert result.code == 0, result.err
    assert "8 frames, 16 instances, 2 tracks, " in result.out and "instances dropped" in result.out
    results = load_results(tmp_path / "r.json")
    assert results.tracks == ["track_0", "track_1"]
    assert all(a.track_id in (0, 1) and 0 <= a.track_doubt <= 1 for a in results.annotations)
    assert all(len(results.annotations_for(im.id)) == 2 for im in results.images)
    assert cli("predict", onnx_checkpoint, clip, "--out", tmp_path / "x.slp", *args).code == 0
    poses = load_poses(tmp_path / "x.slp")
    assert [f.frame_index for f in poses.frames] == list(range(8))
    assert Path(poses.videos[0].path).resolve() == clip.resolve()
    assert poses.tracks == results.tracks
    for frame, image in zip(poses.frames, results.images, strict=True):
        anns = results.annotations_for(image.id)
        assert not frame.user.any() and (frame.width, frame.height) == (128, 128)
        assert frame.track.tolist() == [a.track_id for a in anns]
        np.testing.assert_allclose(frame.instance_score, [a.score for a in anns], rtol=1e-6)
        values = np.array([a.keypoints for a in anns]).reshape(2, -1, 3)
        found = values[..., 2] > 0
        assert (frame.present() == found).all()
        np.testing.assert_allclose(frame.keypoints[found][:, :2], values[found][:, :2], atol=1e-4)
        np.testing.assert_allclose(frame.scores[found], values[found][:, 2], rtol=1e-6)


def test_track_on_an_image_folder_follows_file_names(onnx_checkpoint, synth_set, tmp_path, cli) -> None:
    _, images, _ = synth_set
    out = tmp_path / "r.json"
    result = cli("predict", onnx_checkpoint, images, "--out", out, "--track", *CPU)
    assert result.code == 0, result.err
    results = load_results(out)
    assert results.tracks and all(a.track_id is not None for a in results.annotations)
    # The first image (by file name) starts a track per instance: there is no earlier frame to link to.
    first = results.annotations_for(results.images[0].id)
    assert results.images[0].file_name == "000000.png"
    assert sorted(a.track_id for a in first) == list(range(len(first)))
    assert all(a.track_doubt == 0 for a in first)


def encode_lossless(path: Path, frames: list[np.ndarray]) -> Path:
    """Write RGB frames as a PNG-coded .mov: decoded, the pixels are exactly the ones written."""
    container = av.open(str(path), "w")
    stream = container.add_stream("png", rate=25)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "rgb24"
    for pixels in frames:
        container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
    container.mux(stream.encode())
    container.close()
    return path


def test_tracks_follow_two_animals_that_pass_each_other(tmp_path) -> None:
    """Two animals cross the frame in opposite directions (instance order shuffled in every frame, so the
    tags say nothing about identity): prediction and tracking in one pass keep one track per animal."""
    t = np.arange(24)
    paths = np.stack([np.stack([25 + 5 * t, 45 + 0 * t], 1), np.stack([135 - 5 * t, 80 + 0 * t], 1)])
    truth = animal_poses(SCHEMA, paths.astype(float), length=28, size=(160, 120), jitter=0.3, seed=3)
    rng = np.random.default_rng(0)
    pictures = [draw(160, 120, rng.permutation(f.keypoints[..., :2])) for f in truth.frames]
    reader, frames = open_video(encode_lossless(tmp_path / "scene.mov", pictures))
    predictor = Predictor(Oracle(SCHEMA.num_joints), SCHEMA, input_size=128)
    output = Output(tmp_path / "tracked.json", track=MotionParams())
    summary = run_video_prediction(predictor, reader, frames, output, batch_size=4, progress=False)
    assert (summary.images, summary.instances, summary.tracks) == (24, 48, 2)
    results = load_results(output.path)
    animal_of_track: dict[int, int] = {}
    for image, frame in zip(results.images, truth.frames, strict=True):
        for ann in results.annotations_for(image.id):
            xy = np.array(ann.keypoints).reshape(-1, 3)[:, :2]
            animal = int(np.argmin(np.abs(frame.keypoints[..., :2] - xy).max(axis=(1, 2))))
            assert np.abs(frame.keypoints[animal, :, :2] - xy).max() < 4  # the oracle found the joints
            assert animal_of_track.setdefault(ann.track_id, animal) == animal
    assert sorted(animal_of_track.values()) == [0, 1]


def test_frames_of_the_shared_fly_clip(tmp_path, cli) -> None:
    """A few frames of the real 1024x1024 two-fly clip with an untrained fly-skeleton model: the
    plumbing (decoding, sizes, the .slp written and read back), not accuracy."""
    import torch

    from aegroup.decode import DecodeConfig
    from aegroup.model import ModelConfig, build_model
    from aegroup.training.checkpoint import save_checkpoint

    folder = real_data_root() / "sleap"
    if not (folder / "clip.mp4").is_file():
        pytest.skip(f"real test data not found at {folder} (set AEGROUP_TEST_DATA to the shared data folder)")
    schema = read_schema(folder / "clip.slp")
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", schema.num_joints, input_size=64)
    decode = DecodeConfig(detection_threshold=0.0, max_instances=3)
    ckpt = save_checkpoint(tmp_path / "fly", build_model(config), schema, config, decode, 0, 0)
    out = tmp_path / "flies.slp"
    args = ("--frames", "0:12:4", "--track", "--max-tracks", "2", "--no-candidates")
    result = cli("predict", ckpt, folder / "clip.mp4", "--out", out, *args, *CPU)
    assert result.code == 0, result.err
    poses = load_poses(out)
    assert [f.frame_index for f in poses.frames] == [0, 4, 8]
    assert all((f.width, f.height) == (1024, 1024) and 0 < f.num_instances <= 2 for f in poses.frames)
    assert Path(poses.videos[0].path).resolve() == (folder / "clip.mp4").resolve()
    assert poses.schema.joints == schema.joints and len(poses.tracks) == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ("{clip}", "--frames", "10:40"),
            "clip.mp4: --frames: stop frame 40 is past the end (the video has 16",
        ),
        (("{clip}", "--frames", "3:3"), "clip.mp4: --frames: '3:3' selects no frames"),
        (("{clip}", "--frames", "a:b"), "clip.mp4: --frames: expected integers"),
        (("{bad}",), "bad.mp4: cannot open video"),
        (("{images}", "--frames", "0:4"), "--frames: only for a video SOURCE"),
        (("{clip}", "--max-tracks", "2"), "--max-tracks: only with --track"),
        (("{clip}", "--out", "{tmp}/r.xyz"), "r.xyz: cannot tell the format from the suffix"),
        (("{clip}", "--to", "nope"), "--to: unknown or read-only format 'nope'"),
        (("{notes}",), "notes.txt: neither a folder of images nor a video"),
        (("{clip}", "--coco", "{notes}"), "give either a video or --coco"),
        (("{tmp}/missing.mp4",), "missing.mp4: video file not found"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    onnx_checkpoint, synth_video, synth_set, tmp_path, cli, args, needle
):
    _, _, clip = synth_video
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all")
    (tmp_path / "notes.txt").write_text("hello")
    names = {"clip": clip, "bad": tmp_path / "bad.mp4", "images": synth_set[1], "tmp": tmp_path}
    names["notes"] = tmp_path / "notes.txt"
    filled = [a.format(**names) for a in args]
    out = [] if "--out" in filled else ["--out", str(tmp_path / "r.json")]
    result = cli("predict", onnx_checkpoint, *filled, *out)
    assert result.code == 2 and needle in result.err, result.err
    assert result.err.startswith("error: ") and len(result.err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "notes.txt"]

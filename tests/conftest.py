"""Shared fixtures: the real COCO-format sets beside the project (skipped when absent)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REAL_SETS = {
    "coco": ("test_coco.json", "coco17"),
    "crowdpose": ("test_crowdpose.json", "crowdpose14"),
    "ap10k": ("test_ap10k.json", "ap10k17"),
}


def real_data_root() -> Path:
    """Folder of the small real sets: $AEGROUP_TEST_DATA or ../shared/data beside the project."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("AEGROUP_TEST_DATA", default))


@pytest.fixture(params=sorted(REAL_SETS))
def real_set(request: pytest.FixtureRequest) -> tuple[Path, Path, str]:
    """(annotation file, image folder, built-in schema name) of one real set, or skip if absent."""
    ann_name, schema_name = REAL_SETS[request.param]
    folder = real_data_root() / request.param
    ann = folder / ann_name
    if not ann.is_file():
        pytest.skip(f"real test data not found at {ann} (set AEGROUP_TEST_DATA to the shared data folder)")
    return ann, folder, schema_name


class CliResult:
    """Exit code and captured output of one in-process `aegroup` run."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `aegroup ARGS...` in-process through the real entry point (error handling included)."""
    from aegroup.cli import main

    def run(*args: str) -> CliResult:
        monkeypatch.setattr("sys.argv", ["aegroup", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


CUSTOM_SCHEMA_YAML = """
name: walker_bot
joints: [hub, mast, head, left_knee, left_foot, right_knee, right_foot, tail, beacon]
edges: [[hub, mast], [mast, head], [hub, left_knee], [left_knee, left_foot], [hub, right_knee],
        [right_knee, right_foot], [hub, tail]]
flip_pairs: [[left_knee, right_knee], [left_foot, right_foot]]
group_order: [hub, mast, head, left_knee, right_knee, tail, left_foot, right_foot, beacon]
"""
"""A skeleton aegroup does not ship: a flip pair, a cycle-free tree and a joint (beacon) on no edge."""


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory: pytest.TempPathFactory):
    """(annotation file, image folder, schema): 8 synthetic 128x128 images of CUSTOM_SCHEMA_YAML."""
    import yaml

    from aegroup.schema import PoseSchema
    from aegroup.synth import synthesize

    schema = PoseSchema.model_validate(yaml.safe_load(CUSTOM_SCHEMA_YAML))
    out = tmp_path_factory.mktemp("synth_set")
    ann = synthesize(schema, out, n_images=8, max_instances=3, size=(128, 128), seed=7)
    return ann, out / "images", schema


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread: tiny models gain little from more, and spin-waiting OpenMP threads are a
    5-10x slow-down when a 2-core machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def encode_video(path: Path, frames: list, gop: int = 5) -> Path:
    """Write (H, W, 3) uint8 frames as an H.264 mp4 with a keyframe every `gop` frames and B-frames."""
    import av

    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    stream.codec_context.gop_size = gop
    stream.options = {"bf": "2", "sc_threshold": "0", "keyint_min": str(gop), "crf": "20"}
    for pixels in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


VIDEO_FRAMES = 16
"""Frames of the `synth_video` clip; frame j shows synthetic image j // 2."""
UNLABELLED = (2, 5, 9)
"""Frames of the clip without labels."""
PREDICTED_ONLY = 6
"""The frame of the clip that holds only a predicted instance."""


@pytest.fixture(scope="session")
def synth_video(synth_set, tmp_path_factory: pytest.TempPathFactory):
    """The same labelled frames twice: (video PoseSet, PNG PoseSet, clip path).

    A 16-frame H.264 clip (keyframe every 5 frames, B-frames) of the synthetic set, frame j showing image
    j // 2 with its labels, except the UNLABELLED frames; frame 3 also holds a predicted instance and frame
    PREDICTED_ONLY nothing but one. The PNG set names each frame as decoded from the clip, written as PNG.
    """
    from dataclasses import replace

    import numpy as np
    from PIL import Image

    from aegroup.io.coco import read_rgb
    from aegroup.io.formats import load_poses
    from aegroup.io.poses import Frame, PoseSet, VideoRef
    from aegroup.io.video import VideoReader

    ann, images, schema = synth_set
    stills = load_poses(ann, schema).frames
    out = tmp_path_factory.mktemp("synth_video")
    clip = encode_video(
        out / "clip.mp4", [read_rgb(images / stills[j // 2].file_name) for j in range(VIDEO_FRAMES)]
    )
    reader = VideoReader(clip)
    frames = []
    for j in range(VIDEO_FRAMES):
        Image.fromarray(reader.read(j)).save(out / f"frame_{j:03d}.png")
        if j in UNLABELLED:
            continue
        still = stills[j // 2]
        kp, user = still.keypoints, np.ones(still.num_instances, bool)
        if j in (3, PREDICTED_ONLY):
            guess = kp[:1].copy()
            guess[..., :2] += 3.0
            kp = guess if j == PREDICTED_ONLY else np.concatenate([kp, guess])
            user = np.r_[user, False][-len(kp) :]
        frames.append(Frame.build(100 + j, 128, 128, kp, user=user, video=0, frame_index=j))
    video = PoseSet(schema, frames, videos=[VideoRef(str(clip), 128, 128, VIDEO_FRAMES)]).check("synth_video")
    pngs = [
        replace(f, video=None, frame_index=None, file_name=f"frame_{f.frame_index:03d}.png") for f in frames
    ]
    return video, PoseSet(schema, pngs, image_dir=out).check("synth_video"), clip


@pytest.fixture(scope="session")
def onnx_checkpoint(tmp_path_factory: pytest.TempPathFactory, synth_set) -> Path:
    """A tiny untrained CUSTOM_SCHEMA_YAML model with D = 2 tags, saved as a checkpoint (input 64).

    The last head is re-initialised at full scale so the maps have many clear peaks (heatmaps up to ~1) and
    tags spread beyond the grouping threshold: decoding then makes real choices for backends to agree on.
    """
    import torch

    from aegroup.decode import DecodeConfig
    from aegroup.model import ModelConfig, build_model
    from aegroup.training.checkpoint import save_checkpoint

    _, _, schema = synth_set
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", schema.num_joints, tag_dim=2, input_size=64)
    model = build_model(config)
    k = schema.num_joints
    with torch.no_grad():
        head = model.heads[-1]
        fresh = torch.nn.Conv2d(head.in_channels, head.out_channels, 1)
        head.weight[:k], head.bias[:k] = fresh.weight[:k] * 3, fresh.bias[:k]
        head.weight[k:] *= 5
    folder = tmp_path_factory.mktemp("onnx_checkpoint") / "best"
    return save_checkpoint(folder, model, schema, config, DecodeConfig(max_instances=6), epoch=3, step=42)


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory: pytest.TempPathFactory, onnx_checkpoint: Path) -> tuple[Path, Path]:
    """(checkpoint, its dynamic-size ONNX export at the default opset); skipped without the deploy extra."""
    pytest.importorskip("onnxscript", reason="the 'deploy' extra is not installed")
    from aegroup.deploy.export import export_onnx

    out = tmp_path_factory.mktemp("onnx_export") / "model.onnx"
    return onnx_checkpoint, export_onnx(onnx_checkpoint, out).path

"""`aegroup predict`: run a checkpoint or an ONNX export on images or video frames, write one pose file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from aegroup.decode import DecodeConfig
    from aegroup.predict import Predictor
    from aegroup.predict.files import PredictSummary
    from aegroup.track import TrackParams


def parse_scales(text: str) -> tuple[float, ...]:
    """'1,1.5' -> (1.0, 1.5); a malformed list is a one-line error naming the option."""
    from aegroup.errors import AegroupError

    try:
        scales = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise AegroupError(
            f"--scales: expected comma-separated numbers such as 1,1.5, got '{text}'"
        ) from None
    if not scales or any(s <= 0 for s in scales):
        raise AegroupError(f"--scales: expected positive numbers such as 1,1.5, got '{text}'")
    return scales


def decode_overrides(base: DecodeConfig, items: list[str]) -> DecodeConfig:
    """The checkpoint's decode config with `--decode KEY=VALUE` items applied (values parsed as YAML)."""
    import yaml

    from aegroup.decode import resolve_config
    from aegroup.errors import AegroupError

    fields = type(base).model_fields
    params: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in fields:
            names = ", ".join(fields)
            raise AegroupError(f"--decode: expected KEY=VALUE with KEY one of {names}, got '{item}'")
        params[key.strip()] = yaml.safe_load(value)
    return resolve_config(base, params, source="--decode")


def load_predictor(
    model: Path, device: str, threads: int, method: str, flip: bool, scales: str, input_size: int | None
) -> Predictor:
    """A checkpoint (PyTorch) or, for an .onnx file, an exported model (ONNX Runtime, no torch)."""
    from aegroup.predict import Predictor

    values = parse_scales(scales)
    if model.suffix.lower() == ".onnx":
        return Predictor.from_onnx(
            model, device, threads, method=method, flip=flip, scales=values, input_size=input_size
        )
    return Predictor.from_checkpoint(
        model, device, method=method, flip=flip, scales=values, input_size=input_size, threads=threads
    )


def track_params(track: bool, max_tracks: int | None, window: int | None) -> TrackParams | None:
    """The motion tracker's parameters with --track, None without; tracking options need --track."""
    from aegroup.errors import AegroupError
    from aegroup.track import get_tracker, make_params

    if not track:
        given = [flag for flag, value in (("--max-tracks", max_tracks), ("--window", window)) if value]
        if given:
            raise AegroupError(f"{given[0]}: only with --track")
        return None
    return make_params(get_tracker("motion"), "--track", max_tracks=max_tracks, window=window)


def summary_line(summary: PredictSummary, out: Path, tracking: TrackParams | None) -> str:
    """The one line `aegroup predict` prints: what it wrote and how fast it predicted."""
    line = f"wrote {out}: {summary.images} {summary.unit}, {summary.instances} instances"
    if tracking is not None:
        line += f", {summary.tracks} tracks"
        if summary.dropped:
            line += f", {summary.dropped} instances dropped (more than --max-tracks {tracking.max_tracks})"
    if summary.skipped:
        line += f", {len(summary.skipped)} unreadable {summary.unit} skipped"
    return line + f" ({summary.images_per_s:.1f} {summary.unit}/s)"


def predict(
    model: Path = typer.Argument(
        ..., help="Checkpoint folder, training run folder (its best), or an exported .onnx file."
    ),
    source: Path | None = typer.Argument(
        None, help="Folder of images or a video file (mp4, avi, mov, ...); or use --coco with --images."
    ),
    coco: Path | None = typer.Option(
        None,
        "--coco",
        help="COCO keypoints file: predict on its images, keeping its image ids (for evaluate).",
    ),
    images: Path | None = typer.Option(None, "--images", help="Image folder of the --coco file."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="File to write: .json = results file, .slp = SLEAP predictions, ..."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Output format when not the suffix's: results, coco, slp, labelstudio, dlc, yolo."
    ),
    frames_dir: Path | None = typer.Option(
        None, "--frames-dir", help="Where video frames go as PNG for formats that need image files."
    ),
    frames: str | None = typer.Option(
        None, "--frames", help="Video frames START:STOP[:STEP] (0-based, STOP excluded), e.g. 0:1000:5."
    ),
    track: bool = typer.Option(False, "--track", help="Link instances across frames into tracks."),
    max_tracks: int | None = typer.Option(
        None, "--max-tracks", min=1, help="With --track: number of animals, never more tracks."
    ),
    window: int | None = typer.Option(
        None, "--window", min=1, help="With --track: a track last seen in frame s can continue up to s + W."
    ),
    flip: bool = typer.Option(False, "--flip", help="Flip test: average with the mirrored image's output."),
    scales: str = typer.Option("1", "--scales", help="Test scales, comma-separated, e.g. 1,1.5."),
    method: str = typer.Option(
        "hungarian", "--method", help="Grouper: hungarian, greedy or a plugin's name."
    ),
    batch: int = typer.Option(8, "--batch", min=1, help="Images per forward pass."),
    candidates: bool = typer.Option(
        True, "--candidates/--no-candidates", help="Store every image's candidates (GUI re-grouping)."
    ),
    device: str = typer.Option("auto", "--device", help="'auto' (CUDA when present), 'cpu', 'cuda:N'."),
    threads: int = typer.Option(
        0, "--threads", min=0, help="CPU threads of the network (0: the backend's default)."
    ),
    input_size: int | None = typer.Option(
        None, "--input-size", help="Network input side (default: the size the model was trained at)."
    ),
    decode: list[str] = typer.Option(
        [],
        "--decode",
        help="Override a decoding setting stored in the model, KEY=VALUE, repeatable "
        "(e.g. --decode detection_threshold=0.3).",
    ),
) -> None:
    """Predict poses in images or video frames and write a results file (or .slp, COCO, ...)."""
    from aegroup.errors import AegroupError
    from aegroup.io.video import VIDEO_SUFFIXES, is_video
    from aegroup.predict.files import image_list, run_prediction
    from aegroup.predict.output import output_for
    from aegroup.predict.video import open_video, run_video_prediction

    parse_scales(scales)  # a malformed option fails before the model loads
    tracking = track_params(track, max_tracks, window)
    output = output_for(out, to, frames_dir, tracking)
    video = source if source is not None and is_video(source) else None
    if video is None and frames is not None:
        raise AegroupError("--frames: only for a video SOURCE")
    if video is None and source is not None and source.is_file():
        raise AegroupError(f"{source}: neither a folder of images nor a video ({', '.join(VIDEO_SUFFIXES)})")
    if video is not None and coco is not None:
        raise AegroupError("give either a video or --coco ANN.json --images DIR (not both)")
    opened = open_video(video, frames) if video is not None else None
    predictor = load_predictor(model, device, threads, method, flip, scales, input_size)
    predictor.decode = decode_overrides(predictor.decode, decode)
    if opened is not None:
        summary = run_video_prediction(predictor, *opened, output, batch, candidates, progress=True)
    else:
        entries = image_list(predictor.schema, source, coco, images)
        summary = run_prediction(predictor, entries, output, batch, candidates, progress=True)
    for problem in summary.skipped:
        typer.echo(f"skipped: {problem}", err=True)
    typer.echo(summary_line(summary, out, tracking))

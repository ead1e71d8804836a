"""Prediction over the frames of a video: which frames (`--frames START:STOP[:STEP]`), the run, the file.

Frames are decoded forward on a background thread while the network runs (`Predictor.predict_video`);
each predicted frame is one entry of the written file, named by its video and frame number. Torch-free
itself: the `Predictor` it drives is passed in.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aegroup.errors import AegroupError
from aegroup.io.poses import PoseSet, VideoRef
from aegroup.io.video import VideoReader, parse_frame_range
from aegroup.predict.files import PredictSummary
from aegroup.predict.output import Output, Slot, collect, write_predictions

if TYPE_CHECKING:
    from aegroup.predict.predictor import Predictor


def open_video(path: Path, frames: str | None = None) -> tuple[VideoReader, range]:
    """A video and the frame numbers `frames` ('START:STOP[:STEP]', None: all) selects in it; a video
    that cannot be read or a range past its end is a one-line error naming the file."""
    reader = VideoReader(path)
    if frames is None:
        return reader, range(reader.frames)
    return reader, parse_frame_range(frames, reader.frames, f"{path}: --frames")


def run_video_prediction(
    predictor: Predictor,
    reader: VideoReader,
    frames: range,
    out: Path | Output,
    batch_size: int = 8,
    candidates: bool = True,
    progress: bool = True,
) -> PredictSummary:
    """Predict the chosen frames of a video and write one entry per frame (frame id = frame number + 1);
    frames that cannot be decoded are skipped and listed, and a video none of whose chosen frames decodes
    is an error (nothing written)."""
    output = out if isinstance(out, Output) else Output(Path(out))
    try:
        stream = predictor.predict_video(reader, frames, batch_size, candidates)
        slots = ((Slot(index + 1, frame_index=index), result) for index, result in stream)
        collected = collect(slots, predictor.schema, len(frames), "frames", progress)
    finally:
        reader.close()
    if not collected.frames:
        reason = collected.skipped[0] if collected.skipped else "no frames chosen"
        raise AegroupError(f"{reader.path}: no frame could be decoded ({reason})")
    video = VideoRef(str(reader.path), reader.width, reader.height, reader.frames)
    poses = PoseSet(predictor.schema, collected.frames, videos=[video])
    written = write_predictions(poses, collected.candidates if candidates else None, output, str(reader.path))
    return PredictSummary(
        len(collected.frames),
        written.instances,
        collected.skipped,
        collected.seconds,
        unit="frames",
        tracks=written.tracks,
        dropped=written.dropped,
    )

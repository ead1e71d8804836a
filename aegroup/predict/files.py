"""Prediction over many image files: which images (a folder or a COCO file), the run, the written file.

Torch-free itself: the `Predictor` it drives is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aegroup.errors import AegroupError
from aegroup.io.coco import image_path, load_coco
from aegroup.io.poses import PoseSet
from aegroup.predict.images import Prepared, image_files, read_image
from aegroup.predict.output import Output, Slot, collect, write_predictions
from aegroup.schema import PoseSchema

if TYPE_CHECKING:
    from aegroup.predict.predictor import Predictor


@dataclass(frozen=True)
class ImageEntry:
    """One image to predict on: its results-file id and name, and where it is on disk."""

    id: int
    file_name: str
    path: Path

    @property
    def folder(self) -> Path:
        """The folder `file_name` is relative to."""
        return self.path.parents[len(Path(self.file_name).parts) - 1]


@dataclass
class PredictSummary:
    """What a prediction run wrote and how fast it went: images (or video frames) predicted, instances
    and tracks written, instances dropped beyond `max_tracks`, unreadable items."""

    images: int = 0
    instances: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unit: str = "images"
    tracks: int = 0
    dropped: int = 0

    @property
    def images_per_s(self) -> float:
        """Images (or frames) predicted per second (reading, network, grouping; writing excluded)."""
        return self.images / self.seconds if self.seconds > 0 else 0.0


def image_list(
    schema: PoseSchema, folder: Path | None, coco: Path | None, coco_images: Path | None
) -> list[ImageEntry]:
    """The images of a folder (ids 1..N by name) or of a COCO file checked against `schema` (its ids)."""
    if (folder is None) == (coco is None):
        raise AegroupError("give either an image folder or --coco ANN.json --images DIR (not both)")
    if folder is not None:
        return [ImageEntry(i + 1, p.name, p) for i, p in enumerate(image_files(folder))]
    assert coco is not None
    if coco_images is None:
        raise AegroupError(f"{coco}: --coco needs --images DIR, the folder its file_names are relative to")
    # The checkpoint's skeleton must be the file's: load_coco names both joint lists when they differ.
    data = load_coco(coco, schema)
    entries = []
    for image_id in data.image_ids:
        info = data.image_info(image_id)
        entries.append(ImageEntry(int(image_id), str(info["file_name"]), image_path(coco_images, info)))
    if not entries:
        raise AegroupError(f"{coco}: field 'images' is empty")
    return entries


def run_prediction(
    predictor: Predictor,
    entries: list[ImageEntry],
    out: Path | Output,
    batch_size: int = 8,
    candidates: bool = True,
    progress: bool = True,
) -> PredictSummary:
    """Predict every image (unreadable ones skipped and listed), then write the results file (or the file
    `out` describes: another format, tracking) atomically."""
    output = out if isinstance(out, Output) else Output(Path(out))
    stream = predictor.predict_stream(entries, read_entry, batch_size, candidates)
    slots = ((Slot(entry.id, file_name=entry.file_name), result) for entry, result in stream)
    collected = collect(slots, predictor.schema, len(entries), "img", progress)
    poses = PoseSet(predictor.schema, collected.frames, image_dir=entries[0].folder if entries else None)
    written = write_predictions(
        poses, collected.candidates if candidates else None, output, "predicted images"
    )
    return PredictSummary(
        len(collected.frames),
        written.instances,
        collected.skipped,
        collected.seconds,
        tracks=written.tracks,
        dropped=written.dropped,
    )


def read_entry(entry: ImageEntry) -> Prepared:
    """Read one entry's image file (`images.read_image`)."""
    return read_image(entry.path)

"""Prediction over many image files: which images (a folder or a COCO file), progress, the results file.

Torch-free itself: the `Predictor` it drives is passed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aegroup.errors import AegroupError
from aegroup.io.coco import image_path, load_coco
from aegroup.io.results import build_results, candidates_to_record, instances_to_annotations, save_results
from aegroup.predict.images import image_files
from aegroup.schema import PoseSchema

if TYPE_CHECKING:
    from aegroup.predict.predictor import Prediction, Predictor


@dataclass(frozen=True)
class ImageEntry:
    """One image to predict on: its results-file id and name, and where it is on disk."""

    id: int
    file_name: str
    path: Path


@dataclass
class PredictSummary:
    """What a prediction run wrote and how fast it went."""

    images: int = 0
    instances: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        """Images predicted per second (reading, network, grouping; writing excluded)."""
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
    out: Path,
    batch_size: int = 8,
    candidates: bool = True,
    progress: bool = True,
) -> PredictSummary:
    """Predict every image (unreadable ones skipped and listed), then write the results file atomically."""
    summary = PredictSummary()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    bar = Progress(
        TextColumn("predict"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not progress,
        transient=True,
    )
    start = time.perf_counter()
    with bar:
        task = bar.add_task("predict", total=len(entries), rate="")
        stream = predictor.predict_files([e.path for e in entries], batch_size, candidates)
        # predict_files keeps the input order, so each result pairs with its entry.
        for entry, (_, result) in zip(entries, stream, strict=True):
            if isinstance(result, str):
                summary.skipped.append(result)
            else:
                add_image(entry, result, images, annotations, records)
                summary.images += 1
                summary.instances += len(result.instances)
            elapsed = time.perf_counter() - start
            bar.update(task, advance=1, rate=f"{summary.images / max(elapsed, 1e-9):.1f} img/s")
    summary.seconds = time.perf_counter() - start
    results = build_results(predictor.schema, images, annotations, records if candidates else None)
    save_results(out, results)
    return summary


def add_image(
    entry: ImageEntry,
    prediction: Prediction,
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    records: list[dict[str, Any]],
) -> None:
    """Append one image's entry, instances and candidates to the results being built."""
    images.append(
        {"id": entry.id, "file_name": entry.file_name, "width": prediction.width, "height": prediction.height}
    )
    annotations.extend(instances_to_annotations(entry.id, prediction.instances))
    if prediction.candidates is not None:
        records.append(candidates_to_record(entry.id, prediction.candidates))

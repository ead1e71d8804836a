"""Checkpoint -> ONNX file: the last stack's heatmaps and tags, the settings as metadata, checked twice.

torch's export (`torch.onnx.export(dynamo=True)`: torch.export + onnxscript) writes the graph; the file is
checked by `onnx.checker`, loaded by ONNX Runtime and compared with PyTorch on two batches before it is
written (atomically), so a file on disk is one that runs and matches.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import aegroup
from aegroup.data.transforms import MEAN, STD
from aegroup.deploy.metadata import DEFAULT_OPSET, INPUT, MIN_OPSET, OUTPUTS, OnnxMetadata, read_metadata
from aegroup.deploy.runtime import check_graph, first_line, open_session
from aegroup.errors import AegroupError
from aegroup.io.atomic import atomic_write_bytes
from aegroup.optional import require
from aegroup.training.checkpoint import Checkpoint, load_model

TOLERANCE = 1e-4
"""Largest difference allowed between ONNX Runtime's and PyTorch's maps on the check batches."""


class LastStack(torch.nn.Module):
    """The network with two outputs, what decoding reads: the last stack's heatmaps and tags."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> heatmaps (B, K, H/4, W/4), tags (B, K, D, H/4, W/4)."""
        output = self.network(image)
        return output.heatmaps[-1], output.tags[-1]


@dataclass
class ExportReport:
    """What `export_onnx` wrote and how closely ONNX Runtime matched PyTorch on the check batches."""

    path: Path
    opset: int
    fixed_size: tuple[int, int] | None
    max_difference: float
    checked_shapes: list[tuple[int, ...]]
    size_bytes: int


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    opset: int = DEFAULT_OPSET,
    fixed_size: tuple[int, int] | None = None,
) -> ExportReport:
    """Export a checkpoint (folder, file in it, or run folder) to an ONNX file that alone suffices to predict.

    `fixed_size` (width, height) fixes the image size (the batch stays dynamic); None keeps both dynamic.
    """
    onnx = require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")  # torch.onnx's exporter translates through it
    out = Path(out)
    check_opset(opset, onnx)
    check_writable(out)
    model, ckpt = load_model(checkpoint, "cpu")
    metadata = metadata_for(ckpt, fixed_size)
    side = metadata.input_size
    proto = trace(LastStack(model).eval(), side, opset, dynamic=fixed_size is None)
    opsets = {o.domain: o.version for o in proto.opset_import}
    if opsets.get("", opsets.get("ai.onnx")) != opset:
        raise AegroupError(f"--opset {opset}: the exporter could not convert the graph to it")
    strip_annotations(proto)
    onnx.helper.set_model_props(proto, metadata.to_props())
    proto.producer_name, proto.producer_version = "aegroup", aegroup.__version__
    proto.doc_string = f"aegroup {ckpt.schema.name} pose model; settings in metadata_props (aegroup.*)"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as err:
        raise AegroupError(f"{out}: the exported graph fails onnx.checker ({first_line(err)})") from None
    data = proto.SerializeToString()
    shapes = check_shapes(side, metadata.size_multiple, fixed_size is None)
    difference = compare_with_torch(data, model, metadata, shapes, f"{out} (opset {opset})")
    atomic_write_bytes(out, data)
    return ExportReport(out, opset, fixed_size, difference, shapes, len(data))


def strip_annotations(proto: Any) -> None:
    """Drop the exporter's per-node debugging entries (FX node names, stack traces with the exporting
    machine's file paths): a third of a small model's file, and nothing a runtime reads."""
    for entry in [*proto.graph.node, *proto.graph.value_info, *proto.graph.input, *proto.graph.output]:
        del entry.metadata_props[:]


def check_opset(opset: int, onnx: Any) -> None:
    """Raise a one-line error for an opset the exporter cannot write or the installed onnx does not know."""
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise AegroupError(
            f"--opset {opset}: choose {MIN_OPSET} to {newest} (onnx {onnx.__version__} knows up to {newest}; "
            f"torch's exporter converts down to {MIN_OPSET}); default {DEFAULT_OPSET}"
        )


def check_writable(out: Path) -> None:
    """Fail now, not after a minute of exporting, when `out` cannot be written."""
    if out.is_dir():
        raise AegroupError(f"{out}: is a folder; give a file name such as model.onnx")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=f".{out.name}.", suffix=".probe", dir=out.parent):
            pass
    except OSError as err:
        raise AegroupError(f"{out}: cannot write there ({err.strerror or err})") from None


def metadata_for(ckpt: Checkpoint, fixed_size: tuple[int, int] | None) -> OnnxMetadata:
    """The metadata of an export of `ckpt`; checks a fixed size (square, a multiple of the hourglass's)."""
    config = ckpt.model_config
    multiple = ckpt.output_stride * 2**config.depth
    side = ckpt.input_size
    if fixed_size is not None:
        width, height = fixed_size
        if width != height:
            raise AegroupError(
                f"--input-size {width} {height}: must be square (prediction letterboxes images to a square)"
            )
        if width < multiple or width % multiple:
            raise AegroupError(
                f"--input-size {width} {height}: must be a multiple of {multiple} (stride x 2^depth)"
            )
        side = width
    return OnnxMetadata(
        schema=ckpt.schema,
        model_config=config.model_dump(mode="json"),
        decode_config=ckpt.decode_config,
        input_size=side,
        fixed_size=fixed_size,
        output_stride=ckpt.output_stride,
        size_multiple=multiple,
        tag_dim=config.tag_dim,
        nstack=config.nstack,
        mean=_rgb(MEAN),
        std=_rgb(STD),
        aegroup_version=aegroup.__version__,
        checkpoint={"epoch": ckpt.epoch, "step": ckpt.step, "metrics": ckpt.metrics},
    )


def _rgb(values: np.ndarray) -> tuple[float, float, float]:
    """Three float32 constants as the decimals they were written as (0.485, not 0.48500001430511475)."""
    r, g, b = (round(float(v), 6) for v in values)
    return r, g, b


def trace(module: torch.nn.Module, side: int, opset: int, dynamic: bool) -> Any:
    """`module` as an `onnx.ModelProto`, traced on (2, 3, side, side); batch dynamic, size if `dynamic`."""
    example = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    dim = torch.export.Dim
    # The example batch is 2: a size-1 dimension would be specialised to a constant by torch.export.
    axes = {0: dim("batch"), 2: dim("height"), 3: dim("width")} if dynamic else {0: dim("batch")}
    try:
        with quiet():
            program = torch.onnx.export(
                module,
                (example,),
                input_names=[INPUT],
                output_names=list(OUTPUTS),
                opset_version=opset,
                dynamic_shapes={"image": axes},
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except Exception as err:  # torch.export / onnxscript raise many types; the cause stays chained
        raise AegroupError(f"ONNX export failed at opset {opset}: {first_line(err)}") from err
    return program.model_proto


def check_shapes(side: int, multiple: int, dynamic: bool) -> list[tuple[int, ...]]:
    """Input shapes the export is compared on: the example's, then another batch (and size when dynamic)."""
    shapes: list[tuple[int, ...]] = [(2, 3, side, side)]
    if dynamic:
        shapes.append((1, 3, side + multiple, side))
    else:
        shapes.append((3, 3, side, side))
    return shapes


def compare_with_torch(
    data: bytes, model: torch.nn.Module, metadata: OnnxMetadata, shapes: list[tuple[int, ...]], source: str
) -> float:
    """Largest |ONNX Runtime - PyTorch| over both outputs and all `shapes`; error when over `TOLERANCE`."""
    session = open_session(data, source)
    read_metadata(session.get_modelmeta().custom_metadata_map, source)  # the round trip of our own metadata
    check_graph(session, metadata, source)
    generator = torch.Generator().manual_seed(1)
    worst = 0.0
    for shape in shapes:
        batch = torch.randn(*shape, generator=generator)
        with torch.no_grad():
            output = model(batch)
        expected = (output.heatmaps[-1].numpy(), output.tags[-1].numpy())
        got = session.run(list(OUTPUTS), {INPUT: batch.numpy()})
        for name, a, b in zip(OUTPUTS, got, expected, strict=True):
            if a.shape != b.shape:
                raise AegroupError(f"{source}: output '{name}' has shape {a.shape}, PyTorch's {b.shape}")
            worst = max(worst, float(np.abs(a - b).max()))
    if worst > TOLERANCE:
        raise AegroupError(
            f"{source}: ONNX Runtime's maps differ from PyTorch's by {worst:.2e} (> {TOLERANCE})"
        )
    return worst


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporter's progress lines, log warnings and deprecation notices (errors still raise)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [log.level for log in loggers]
    try:
        for log in loggers:
            log.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)

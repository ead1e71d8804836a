"""`aegroup export-model`: a checkpoint -> one ONNX file (network + settings) that predicts without torch."""

from __future__ import annotations

from pathlib import Path

import typer

from aegroup.deploy.metadata import DEFAULT_OPSET, MIN_OPSET


def export_model(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder (or a training run folder: its best)."),
    onnx: Path = typer.Option(..., "--onnx", help="ONNX file to write, e.g. model.onnx."),
    opset: int = typer.Option(
        DEFAULT_OPSET, "--opset", help=f"ONNX opset, {MIN_OPSET} up to the newest the installed onnx knows."
    ),
    input_size: tuple[int, int] | None = typer.Option(
        None,
        "--input-size",
        metavar="W H",
        help="Fix the image size (square, a multiple of stride x 2^depth; the batch stays dynamic).",
    ),
    dynamic: bool = typer.Option(
        False, "--dynamic", help="Dynamic batch and image size (the default without --input-size)."
    ),
    check_images: Path | None = typer.Option(
        None,
        "--check-images",
        help="Then predict every image in this folder (e.g. the val set) with PyTorch and with ONNX "
        "Runtime: maps must agree to 1e-4 and the groupings be identical.",
    ),
) -> None:
    """Export a trained model to ONNX, its schema and decoding settings stored in the file's metadata."""
    from aegroup.deploy.export import export_onnx
    from aegroup.errors import AegroupError

    if dynamic and input_size is not None:
        raise AegroupError("--dynamic and --input-size: give one of them, not both")
    report = export_onnx(checkpoint, onnx, opset, input_size)
    size = "dynamic size" if report.fixed_size is None else "{}x{}".format(*report.fixed_size)
    typer.echo(
        f"wrote {report.path} ({report.size_bytes / 1e6:.1f} MB, opset {report.opset}, {size}, "
        f"dynamic batch); onnx.checker passed; ONNX Runtime matches PyTorch to {report.max_difference:.1e}"
    )
    if check_images is not None:
        check_export(checkpoint, report.path, check_images)


def check_export(checkpoint: Path, onnx: Path, folder: Path) -> None:
    """Compare PyTorch and ONNX Runtime on every image of `folder`; a difference is a one-line error."""
    from aegroup.deploy.parity import compare_backends
    from aegroup.deploy.runtime import OnnxModel
    from aegroup.errors import AegroupError
    from aegroup.io.coco import read_rgb
    from aegroup.predict import image_files

    report = compare_backends(checkpoint, OnnxModel(onnx), (read_rgb(p) for p in image_files(folder)))
    summary = (
        f"{report.images} images, {report.instances} instances: max difference heatmaps "
        f"{report.heatmap_difference:.1e}, tags {report.tag_difference:.1e}"
    )
    if not report.identical:
        first = report.mismatches[0] if report.mismatches else "maps over the tolerance"
        raise AegroupError(
            f"{onnx}: does not predict like {checkpoint} on {folder} ({summary}; {first}; "
            f"{len(report.mismatches)} images group differently; PyTorch in channels_last layout groups "
            f"{report.torch_unstable} differently from itself: tags too close to separate instances)"
        )
    typer.echo(f"checked on {folder}: {summary}; groupings identical")

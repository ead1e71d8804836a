"""An exported model in ONNX Runtime: no torch, metadata checked on load, numpy maps out.

`OnnxModel(path).run(batch)` returns what `Predictor.run` returns for the torch network: the last stack's
heatmaps (B, K, H/4, W/4) and tags (B, K, D, H/4, W/4), as numpy arrays that `decode_batch` groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aegroup.deploy.metadata import INPUT, OUTPUTS, OnnxMetadata, read_metadata
from aegroup.errors import AegroupError
from aegroup.optional import require

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def providers_for(device: str) -> list[Any]:
    """ONNX Runtime execution providers for 'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when it is there)."""
    ort = require("onnxruntime", "running an exported model")
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    kind, _, index = device.partition(":")
    if kind != "cuda" or not (index == "" or index.isdigit()):
        raise AegroupError(f"device '{device}': expected 'cpu', 'cuda', 'cuda:N' or 'auto'")
    if CUDA not in available:
        raise AegroupError(
            f"device '{device}': onnxruntime {ort.__version__} has no CUDA execution provider "
            f"(it has {', '.join(available)}); pip uninstall onnxruntime && pip install onnxruntime-gpu"
        )
    return [(CUDA, {"device_id": int(index or 0)}), CPU]


def open_session(model: str | Path | bytes, source: str, device: str = "cpu", threads: int = 0) -> Any:
    """An `onnxruntime.InferenceSession` of a file or serialised model; one-line error when it cannot load.

    `threads`: intra-op threads (0: ONNX Runtime's default, one per physical core).
    """
    ort = require("onnxruntime", "running an exported model")
    if threads < 0:
        raise AegroupError(f"threads: expected 0 (automatic) or more, got {threads}")
    providers = providers_for(device)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: the one-line message below says what went wrong
    if isinstance(model, Path):
        model = str(model)
    try:
        session = ort.InferenceSession(model, options, providers=providers)
    except Exception as err:  # onnxruntime's own exception types (Fail, InvalidGraph, NoSuchFile...)
        raise AegroupError(
            f"{source}: onnxruntime {ort.__version__} cannot load it ({first_line(err)})"
        ) from None
    if device.startswith("cuda") and session.get_providers()[0] != CUDA:
        raise AegroupError(
            f"device '{device}': onnxruntime could not start its CUDA execution provider "
            "(are the CUDA and cuDNN libraries it was built for installed?)"
        )
    return session


class OnnxModel:
    """An exported aegroup network in an ONNX Runtime session, with the metadata it was exported with."""

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise AegroupError(f"{self.path}: ONNX model not found")
        self.session = open_session(self.path, str(self.path), device, threads)
        props = self.session.get_modelmeta().custom_metadata_map
        self.metadata: OnnxMetadata = read_metadata(props, str(self.path))
        check_graph(self.session, self.metadata, str(self.path))

    @property
    def providers(self) -> list[str]:
        """The execution providers the session runs on, preferred first."""
        return list(self.session.get_providers())

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (B, K, H/4, W/4) and tags (B, K, D, H/4, W/4) for (B, 3, H, W) preprocessed images."""
        batch = np.ascontiguousarray(images, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise AegroupError(f"{self.path}: input must be (B, 3, H, W) images, got {batch.shape}")
        fixed = self.metadata.fixed_size
        if fixed is not None and (batch.shape[3], batch.shape[2]) != fixed:
            raise AegroupError(
                f"{self.path}: exported for {fixed[0]}x{fixed[1]} inputs, got "
                f"{batch.shape[3]}x{batch.shape[2]} (re-export with --dynamic for any size)"
            )
        heatmaps, tags = self.session.run(list(OUTPUTS), {INPUT: batch})
        return heatmaps, tags

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`run`: the forward pass of prediction's `Network` protocol, for `Predictor`."""
        return self.run(images)


def check_graph(session: Any, metadata: OnnxMetadata, source: str) -> None:
    """The graph has the aegroup input and outputs, with channel counts that match the metadata."""
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if list(inputs) != [INPUT] or len(inputs[INPUT]) != 4:
        raise AegroupError(f"{source}: graph inputs {list(inputs)} are not one 4-d '{INPUT}' (B, 3, H, W)")
    missing = [name for name in OUTPUTS if name not in outputs]
    if missing:
        raise AegroupError(f"{source}: graph has no output {', '.join(repr(m) for m in missing)}")
    k, d = metadata.schema.num_joints, metadata.tag_dim
    expected = {"heatmaps": (4, {1: k}), "tags": (5, {1: k, 2: d})}
    for name, (rank, dims) in expected.items():
        shape = outputs[name]
        if len(shape) != rank or any(shape[axis] != size for axis, size in dims.items()):
            raise AegroupError(
                f"{source}: output '{name}' has shape {shape}, the metadata asks for {rank} dims "
                f"with K = {k}" + (f", D = {d}" if name == "tags" else "")
            )


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (or its type name)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]

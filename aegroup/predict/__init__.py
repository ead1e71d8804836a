"""Prediction: a trained network applied to images or video frames; grouped instances in image pixels,
written as a results file or any pose format.

`network` (the `Network` protocol a backend implements), `torch_network` (the torch forward pass),
`images` (listing, reading and batching images and video frames), `predictor` (`Predictor`: test-time
augmentation, grouping, the way back to image pixels; a checkpoint or an ONNX export), `output` (predicted
frames -> tracked -> one written file), `files` (many image files), `video` (the frames of a video).
Names load on first use; everything but `torch_network` imports without torch.
"""

from aegroup.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Network": "aegroup.predict.network",
        "TorchNetwork": "aegroup.predict.torch_network",
        "IMAGE_SUFFIXES": "aegroup.predict.images",
        "image_files": "aegroup.predict.images",
        "Prediction": "aegroup.predict.predictor",
        "Predictor": "aegroup.predict.predictor",
        "Output": "aegroup.predict.output",
        "output_for": "aegroup.predict.output",
        "ImageEntry": "aegroup.predict.files",
        "PredictSummary": "aegroup.predict.files",
        "image_list": "aegroup.predict.files",
        "run_prediction": "aegroup.predict.files",
        "open_video": "aegroup.predict.video",
        "run_video_prediction": "aegroup.predict.video",
    },
)
__all__ = __dir__()

"""Prediction: a trained network applied to images; grouped instances in image pixels, results files.

`network` (the `Network` protocol a backend implements), `torch_network` (the torch forward pass),
`images` (listing, reading and batching images; no torch), `predictor` (`Predictor`: test-time
augmentation, grouping, the way back to image pixels), `files` (many files -> one results file; no torch).
Names load on first use, so `aegroup.predict.files` and `.images` import without torch.
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
        "ImageEntry": "aegroup.predict.files",
        "PredictSummary": "aegroup.predict.files",
        "image_list": "aegroup.predict.files",
        "run_prediction": "aegroup.predict.files",
    },
)
__all__ = __dir__()

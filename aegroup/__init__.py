"""aegroup: associative-embedding bottom-up pose estimation for any skeleton.

The steps a script takes, one name each (loaded on first use, so `import aegroup` is fast and torch-free)::

    schema = aegroup.load_schema("coco17")                    # or a YAML file: PoseSchema
    result = aegroup.train(aegroup.load_train_config("train.yaml"))
    predictor = aegroup.Predictor.from_checkpoint(result.checkpoint)
    instances = predictor.predict("image.jpg")                # or aegroup.group(heatmaps, tags, schema)
    aegroup.evaluate("val.json", "results.json", schema)      # COCO AP
    aegroup.export_file("results.json", "train.json", min_score=0.5)
    poses = aegroup.load_poses("labels.json")                 # any supported file -> PoseSet
    aegroup.save_poses(poses, "labels.coco.json")
"""

from aegroup.lazy import lazy_exports

__version__ = "0.1.0"

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AegroupError": "aegroup.errors",
        "PoseSchema": "aegroup.schema",
        "builtin_schemas": "aegroup.schema",
        "load_schema": "aegroup.schema",
        "CocoPoseDataset": "aegroup.data.dataset",
        "PoseDataset": "aegroup.data.dataset",
        "TrainConfig": "aegroup.training.config",
        "load_train_config": "aegroup.training.config",
        "train": "aegroup.training.loop",
        "Predictor": "aegroup.predict.predictor",
        "DecodeConfig": "aegroup.decode.config",
        "Instance": "aegroup.decode.types",
        "group": "aegroup.decode.api",
        "group_candidates": "aegroup.decode.api",
        "evaluate": "aegroup.eval.coco_eval",
        "export_file": "aegroup.io.export",
        "PoseSet": "aegroup.io.poses",
        "load_poses": "aegroup.io.formats",
        "save_poses": "aegroup.io.formats",
    },
)
__all__ = __dir__()

"""Train on a COCO-keypoints folder of your own from Python (the same as `aegroup train CONFIG`).

    python examples/train_my_coco.py examples/configs/my_coco_folder.yaml
    python examples/train_my_coco.py examples/configs/my_coco_folder.yaml --set max_steps=200 --set device=cpu

Checks every split against the skeleton before training, then prints the best validation AP and where the
checkpoint is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aegroup.errors import AegroupError
from aegroup.io.coco import check_coco, read_coco_json
from aegroup.io.frames import find_image_dir
from aegroup.training import load_train_config, train
from aegroup.training.config import SplitConfig


def image_folder(split: SplitConfig) -> Path:
    """The split's image folder: the one it names, else where its file's image names are found."""
    if split.image_dir is not None:
        return split.image_dir
    names = [image["file_name"] for image in read_coco_json(split.ann_file)["images"]]
    return find_image_dir(split.ann_file.parent, names)


def main(argv: list[str] | None = None) -> int:
    """Check the data named by the config, train, and report; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="training config YAML (see examples/configs/my_coco_folder.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a field")
    args = parser.parse_args(argv)
    try:
        config = load_train_config(args.config, args.set)
        schema = config.resolve_schema()
        splits = [(config.train_field(i), s) for i, s in enumerate(config.train_splits)]
        for name, split in splits + ([("val", config.val)] if config.val else []):
            summary = check_coco(split.ann_file, image_folder(split), schema, split.categories)
            if summary.problems:
                raise AegroupError(f"{name} split: {summary.problems[0]}")
            print(f"{name}: {summary.images} images, {summary.instances} instances of '{schema.name}'")
        result = train(config)
    except AegroupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ap = result.metrics.get("AP")
    print(f"trained {result.steps} steps in {result.seconds:.0f} s ({result.images_per_s:.1f} images/s)")
    print(f"best val AP: {ap:.3f}" if ap is not None else "no validation split: no AP")
    print(f"checkpoint: {result.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

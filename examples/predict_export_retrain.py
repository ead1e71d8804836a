"""The labelling loop from Python: predict unlabelled images -> export confident poses -> retrain on them.

    python examples/predict_export_retrain.py runs/my_coco/best new_images/ \
        examples/configs/my_coco_folder.yaml --out loop/ --min-score 0.5

Steps (each is also a CLI command):
  1. predict   `aegroup predict CHECKPOINT new_images/ --out loop/results.json`
  2. review    `aegroup label --images new_images/ --results loop/results.json` (optional: fix groupings,
               then export the saved project instead of the raw results)
  3. export    `aegroup export loop/results.json --out loop/train.json --min-score 0.5`
  4. retrain   `aegroup train CONFIG --set train.ann_file=loop/train.json --set train.image_dir=new_images/`
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aegroup.errors import AegroupError
from aegroup.io.export import export_file
from aegroup.predict import Predictor
from aegroup.predict.files import image_list, run_prediction
from aegroup.training import load_train_config, train


def main(argv: list[str] | None = None) -> int:
    """Run predict -> export -> retrain; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", type=Path, help="checkpoint (or run folder) to predict with")
    parser.add_argument("images", type=Path, help="folder of unlabelled images")
    parser.add_argument(
        "config", type=Path, help="training config to retrain with (its train split is replaced)"
    )
    parser.add_argument("--out", type=Path, default=Path("loop"), help="folder for results, labels, new run")
    parser.add_argument("--min-score", type=float, default=0.5, help="keep predicted instances scoring this")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a field")
    args = parser.parse_args(argv)
    try:
        predictor = Predictor.from_checkpoint(args.checkpoint)
        results = args.out / "results.json"
        summary = run_prediction(predictor, image_list(predictor.schema, args.images, None, None), results)
        print(f"1. predicted {summary.images} images -> {results} ({summary.instances} instances)")
        for problem in summary.skipped:
            print(f"   skipped: {problem}", file=sys.stderr)
        labels = args.out / "train.json"
        counts = export_file(results, labels, min_score=args.min_score)
        print(f"2. exported {counts['instances']} instances scoring >= {args.min_score} -> {labels}")
        overrides = [
            f"train.ann_file={labels.resolve()}",
            f"train.image_dir={args.images.resolve()}",
            f"output_dir={(args.out / 'retrain').resolve()}",
            *args.set,
        ]
        result = train(load_train_config(args.config, overrides))
    except AegroupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ap = result.metrics.get("AP")
    print(f"3. retrained {result.steps} steps -> {result.checkpoint}" + (f" (val AP {ap:.3f})" if ap else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

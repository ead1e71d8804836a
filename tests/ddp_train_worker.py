"""Run by tests/test_train_loop.py under torchrun: train as configured and leave this rank's evidence.

Each rank writes `rank<R>.safetensors` (its final weights) and `rank<R>.json` (its TrainResult metrics and,
on rank 0, the image ids that validation evaluated after gathering every rank's predictions).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

import aegroup.training.loop as loop
import aegroup.training.validate as validate
from aegroup.training.checkpoint import unwrap
from aegroup.training.config import load_train_config


def main(config_path: str, evidence: Path) -> None:
    rank = int(os.environ["RANK"])
    evaluated: list[list[int]] = []
    original_fit, original_evaluate = loop.fit, validate.evaluate

    def fit(session: Any) -> Any:
        result = original_fit(session)
        state = {k: v.detach().clone().contiguous() for k, v in unwrap(session.model).state_dict().items()}
        save_file(state, evidence / f"rank{rank}.safetensors")
        return result

    def evaluate(gt: Any, results: list[dict[str, Any]], *args: Any) -> dict[str, float]:
        evaluated.append(sorted({r["image_id"] for r in results}))
        return original_evaluate(gt, results, *args)

    loop.fit, validate.evaluate = fit, evaluate
    result = loop.train(load_train_config(config_path))
    report = {"metrics": result.metrics, "steps": result.steps, "evaluated": evaluated}
    (evidence / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

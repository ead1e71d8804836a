"""COCO evaluation: perfect and degraded predictions, every results form, schema inference, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aegroup.decode import Instance
from aegroup.errors import AegroupError
from aegroup.eval import METRICS, evaluate
from aegroup.io.coco import load_coco
from aegroup.io.results import build_results, instances_to_annotations, save_results


def gt_as_results(ann: Path, schema, shift: float = 0.0) -> list[dict]:
    """Every labelled ground-truth instance as a prediction (optionally shifted by `shift` pixels)."""
    gt = load_coco(ann, schema)
    out = []
    for image_id in gt.image_ids:
        kps, crowd = gt.keypoints(image_id)
        insts = []
        for kp in kps[~crowd & (kps[:, :, 2] > 0).any(axis=1)]:
            kp = kp.astype(np.float32).copy()
            kp[:, :2] += shift
            kp[:, 2] = kp[:, 2] > 0
            insts.append(Instance(kp, np.zeros((len(kp), 1), np.float32), 1.0))
        out += instances_to_annotations(image_id, insts)
    return out


def test_ground_truth_scores_one_and_shifted_scores_less(synth_set) -> None:
    ann, _, schema = synth_set
    perfect = evaluate(ann, gt_as_results(ann, schema), schema)
    assert set(perfect) == set(METRICS) and perfect["AP"] == pytest.approx(1.0)
    shifted = evaluate(ann, gt_as_results(ann, schema, shift=3.0), schema)
    assert 0.0 < shifted["AP"] < 1.0 and shifted["AP50"] >= shifted["AP75"]
    assert evaluate(ann, [], schema) == dict.fromkeys(METRICS, 0.0)


def test_every_results_form_gives_the_same_numbers(synth_set, tmp_path: Path) -> None:
    ann, _, schema = synth_set
    dets = gt_as_results(ann, schema, shift=1.5)
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(dets))
    images = json.loads(ann.read_text())["images"]
    results = build_results(schema, images, dets)
    full = save_results(tmp_path / "results.json", results)
    expected = evaluate(ann, dets, schema)
    assert evaluate(ann, plain, schema) == expected
    assert evaluate(ann, full, schema) == expected
    assert evaluate(ann, results, schema) == expected
    assert evaluate(ann, full) == expected  # schema taken from the results file
    assert evaluate(ann, plain) == expected  # schema inferred from the ground-truth category


def test_evaluation_is_category_agnostic_and_uses_builtin_sigmas(real_set) -> None:
    """AP-10K's categories are species (ids != 1); predictions carry category 1 and still match."""
    ann, _, schema_name = real_set
    from aegroup.schema import load_schema

    schema = load_schema(schema_name)
    dets = gt_as_results(ann, schema, shift=2.0)
    assert evaluate(ann, dets, schema) == evaluate(ann, dets)  # same schema inferred from the GT category
    assert evaluate(ann, gt_as_results(ann, schema), schema)["AP"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("dets", "message"),
    [
        ([{"image_id": 1, "keypoints": [0.0] * 5, "score": 1.0}], r"field '\[0\]\.keypoints': 5 values"),
        ([{"image_id": 999, "keypoints": [0.0] * 27, "score": 1.0}], "image 999 is not in the ground truth"),
        ([{"image_id": 1, "score": 1.0}], "needs 'image_id', 'keypoints' and 'score'"),
        ({"not": "a list"}, "field 'format'"),
    ],
)
def test_bad_results_give_one_line_errors(synth_set, tmp_path: Path, dets, message: str) -> None:
    ann, _, schema = synth_set
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(dets))
    with pytest.raises(AegroupError, match=message) as err:
        evaluate(ann, path, schema)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_results_schema_must_match(synth_set, tmp_path: Path) -> None:
    from aegroup.schema import load_schema

    ann, _, schema = synth_set
    images = json.loads(ann.read_text())["images"]
    other = save_results(tmp_path / "r.json", build_results(load_schema("coco17"), images, []))
    with pytest.raises(AegroupError, match="field 'schema'"):
        evaluate(ann, other, schema)


def test_cli_evaluate_prints_the_ap_table(cli, synth_set, tmp_path: Path) -> None:
    ann, _, schema = synth_set
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(gt_as_results(ann, schema)))
    result = cli("evaluate", ann, path)
    assert result.code == 0, result.err
    header, values = result.out.strip().splitlines()
    assert header.split() == list(METRICS)
    assert values.split()[0] == "1.000"
    as_json = cli("evaluate", ann, path, "--json")
    assert json.loads(as_json.out)["AP"] == pytest.approx(1.0)


def test_cli_evaluate_errors_are_one_line(cli, synth_set, tmp_path: Path) -> None:
    ann, _, _ = synth_set
    missing = cli("evaluate", ann, tmp_path / "nope.json")
    assert missing.code == 2 and missing.err.startswith("error: ") and "not found" in missing.err
    assert len(missing.err.strip().splitlines()) == 1
    bad_schema = cli("evaluate", ann, tmp_path / "nope.json", "--schema", "no_such_schema")
    assert bad_schema.code == 2 and "unknown schema" in bad_schema.err


def test_cli_evaluate_help(cli) -> None:
    result = cli("evaluate", "--help")
    assert result.code == 0 and "RESULTS" in result.out.upper() and "--schema" in result.out

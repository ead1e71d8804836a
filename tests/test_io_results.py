"""Results file: lossless round trip, candidates round trip, one-line errors naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aegroup.decode import Candidates, DecodeConfig, Instance, group_candidates
from aegroup.errors import AegroupError
from aegroup.io.provenance import JointOrigin
from aegroup.io.results import (
    ResultsFile,
    annotations_to_instances,
    build_results,
    candidates_to_record,
    instances_to_annotations,
    load_results,
    record_to_candidates,
    save_results,
)
from aegroup.schema import load_schema

SCHEMA = load_schema("crowdpose14")
K = SCHEMA.num_joints


def _instances(rng: np.random.Generator, n: int, dim: int) -> list[Instance]:
    out = []
    for _ in range(n):
        kp = np.concatenate([rng.uniform(0, 300, (K, 2)), rng.uniform(0, 1, (K, 1))], axis=1)
        kp[rng.random(K) < 0.3] = 0
        refined = (rng.random(K) < 0.3) & (kp[:, 2] > 0)
        tags = rng.normal(size=(K, dim)).astype(np.float32)
        out.append(Instance(kp.astype(np.float32), tags, 0.5, refined=refined))
    return out


def _candidates(rng: np.random.Generator, m: int = 6, dim: int = 2) -> Candidates:
    cands = Candidates.empty(K, m, dim)
    counts = rng.integers(0, m + 1, K)
    for k, c in enumerate(counts):
        cands.score[k, :c] = np.sort(rng.uniform(0.2, 1.0, c))[::-1]
        cands.xy[k, :c] = rng.uniform(0, 100, (c, 2))
        cands.tag[k, :c] = rng.normal(size=(c, dim)) * 3
    return cands


def _results(rng: np.random.Generator) -> ResultsFile:
    images = [
        {"id": 7, "file_name": "a.png", "width": 320, "height": 240},
        {"id": 9, "file_name": "b.png", "width": 64, "height": 64},
    ]
    anns = instances_to_annotations(7, _instances(rng, 3, 2)) + instances_to_annotations(
        9, _instances(rng, 1, 2)
    )
    cands = [candidates_to_record(7, _candidates(rng)), candidates_to_record(9, _candidates(rng))]
    return build_results(SCHEMA, images, anns, cands)


def test_results_round_trip_is_lossless(tmp_path: Path) -> None:
    results = _results(np.random.default_rng(0))
    path = save_results(tmp_path / "r.json", results)
    data = json.loads(path.read_text())
    assert (
        data["format"] == "aegroup-results" and data["version"] == 1 and data["schema"]["name"] == SCHEMA.name
    )
    assert load_results(path) == results
    assert [a["image_id"] for a in data["annotations"]] == [7, 7, 7, 9]


def test_annotations_are_a_plain_coco_results_list(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    results = _results(np.random.default_rng(1))
    gt = COCO()
    gt.dataset = {
        "images": [im.model_dump() for im in results.images],
        "annotations": [],
        "categories": [SCHEMA.to_coco_category()],
    }
    gt.createIndex()
    dt = gt.loadRes(results.to_json()["annotations"])
    assert len(dt.getAnnIds()) == 4


def test_instances_round_trip_through_annotations() -> None:
    rng = np.random.default_rng(2)
    insts = _instances(rng, 4, 3)
    back = annotations_to_instances(instances_to_annotations(1, insts))
    for a, b in zip(insts, back, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.tags, b.tags)
        np.testing.assert_array_equal(a.refined, b.refined)
        assert a.score == b.score


def test_joint_origin_is_written_and_optional(tmp_path: Path) -> None:
    """Predictions carry origin 0 (detected) / 1 (refined-in); a file without it reads as all detected."""
    results = _results(np.random.default_rng(6))
    refined = [np.asarray(a.origin) == JointOrigin.REFINED for a in results.annotations]
    assert any(r.any() for r in refined) and all(set(a.origin) <= {0, 1} for a in results.annotations)
    data = results.to_json()
    for ann in data["annotations"]:
        del ann["origin"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    old = load_results(path)
    assert all(a.origin is None for a in old.annotations)
    assert not any(i.refined.any() for i in annotations_to_instances(old.annotations))


def test_candidates_record_round_trip_regroups_identically() -> None:
    rng = np.random.default_rng(3)
    cands = _candidates(rng, m=8, dim=2)
    back = record_to_candidates(candidates_to_record(5, cands), K)
    valid = cands.score > 0
    assert back.score.shape[1] == valid.sum(axis=1).max()
    for k in range(K):
        n = valid[k].sum()
        np.testing.assert_array_equal(back.score[k, :n], cands.score[k, :n])
        np.testing.assert_array_equal(back.xy[k, :n], cands.xy[k, :n])
        np.testing.assert_array_equal(back.tag[k, :n], cands.tag[k, :n])
        assert (back.score[k, n:] == 0).all()
    cfg = DecodeConfig(detection_threshold=0.1)
    a, b = group_candidates(cands, SCHEMA, config=cfg), group_candidates(back, SCHEMA, config=cfg)
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.keypoints, y.keypoints)


def test_empty_candidates_record() -> None:
    back = record_to_candidates({"image_id": 1, "joint": [], "xy": [], "score": [], "tag": []}, K, tag_dim=2)
    assert back.score.shape == (K, 0) and back.tag.shape == (K, 0, 2)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["annotations"][1].update(keypoints=[1.0, 2.0]), "field 'annotations[1].keypoints'"),
        (lambda d: d["annotations"][0].update(image_id=99), "field 'annotations[0].image_id'"),
        (lambda d: d["annotations"][2].update(tags=[[0.0]]), "field 'annotations[2].tags'"),
        (lambda d: d["candidates"][0]["joint"].__setitem__(0, K), "field 'candidates[0].joint'"),
        (lambda d: d["candidates"][1]["score"].append(0.5), "score"),
        (lambda d: d.update(format="coco"), "field 'format'"),
        (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image id"),
        (lambda d: d["annotations"][0].update(score="high"), "field 'annotations[0].score'"),
        (lambda d: d["annotations"][1].update(track_doubt=1.5), "field 'annotations[1].track_doubt'"),
        (lambda d: d["annotations"][1].update(origin=[0, 1]), "field 'annotations[1].origin'"),
        (lambda d: d["annotations"][3].update(origin=[4] * K), "field 'annotations[3].origin'"),
    ],
)
def test_bad_results_file_gives_one_line_error(tmp_path: Path, edit, expected: str) -> None:
    data = _results(np.random.default_rng(4)).to_json()
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(AegroupError) as err:
        load_results(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and expected in message


def test_missing_and_invalid_json_files(tmp_path: Path) -> None:
    with pytest.raises(AegroupError, match="not found"):
        load_results(tmp_path / "nope.json")
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(AegroupError, match="not valid JSON"):
        load_results(bad)

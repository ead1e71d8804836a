"""`aegroup export`: results file / GUI project -> COCO training file that the data pipeline reads back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aegroup.io.coco import load_coco
from aegroup.io.results import build_results, save_results
from aegroup.schema import load_schema
from aegroup.synth import synthesize

GECKO = Path(__file__).resolve().parents[1] / "examples" / "skeletons" / "gecko.yaml"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small synthetic gecko set: (annotation file, image folder)."""
    root = tmp_path_factory.mktemp("export")
    ann = synthesize(load_schema(GECKO), root, n_images=4, max_instances=3, size=(96, 80), seed=3)
    return ann, root / "images"


def gt_as_results(ann: Path, out: Path, scores: list[float] | None = None) -> Path:
    """A results file whose instances are the ground truth (joint score 1 where labelled, else 0)."""
    schema = load_schema(GECKO)
    data = json.loads(ann.read_text())
    annotations = []
    for i, a in enumerate(data["annotations"]):
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        kp[:, 2] = kp[:, 2] > 0
        score = 1.0 if scores is None else scores[i]
        tags = [[float(i)]] * schema.num_joints
        annotations.append(
            {"image_id": a["image_id"], "keypoints": kp.ravel().tolist(), "score": score, "tags": tags}
        )
    save_results(out, build_results(schema, data["images"], annotations))
    return out


def test_export_round_trip_reads_back_same_keypoints(synthetic, tmp_path, cli) -> None:
    ann, images = synthetic
    results = gt_as_results(ann, tmp_path / "results.json")
    result = cli("export", results, "--out", tmp_path / "train.json")
    assert result.code == 0, result.err
    assert "instances" in result.out
    schema = load_schema(GECKO)
    truth, exported = load_coco(ann, schema), load_coco(tmp_path / "train.json", schema)
    assert truth.image_ids == exported.image_ids
    for image_id in truth.image_ids:
        want, got = truth.keypoints(image_id)[0], exported.keypoints(image_id)[0]
        labelled = want[..., 2] > 0
        assert want.shape == got.shape
        np.testing.assert_array_equal(got[..., 2] > 0, labelled)
        np.testing.assert_allclose(got[..., :2][labelled], want[..., :2][labelled], atol=0.01)

    from aegroup.data import CocoPoseDataset

    dataset = CocoPoseDataset(tmp_path / "train.json", images, schema, train=False, input_size=64)
    reference = CocoPoseDataset(ann, images, schema, train=False, input_size=64)
    assert len(dataset) == len(reference)
    for i in range(len(dataset)):
        np.testing.assert_allclose(dataset[i]["heatmaps"], reference[i]["heatmaps"], atol=1e-4)
        assert (dataset[i]["joints"][..., 1].sum()) == (reference[i]["joints"][..., 1].sum())


def test_export_min_score_drops_instances(synthetic, tmp_path, cli) -> None:
    ann, _ = synthetic
    n = len(json.loads(ann.read_text())["annotations"])
    scores = [0.9 if i % 2 == 0 else 0.2 for i in range(n)]
    results = gt_as_results(ann, tmp_path / "results.json", scores)
    assert cli("export", results, "--out", tmp_path / "train.json", "--min-score", "0.5").code == 0
    kept = json.loads((tmp_path / "train.json").read_text())["annotations"]
    assert len(kept) == sum(s >= 0.5 for s in scores)
    assert json.loads((tmp_path / "train.json").read_text())["categories"][0]["name"] == "gecko"


def test_export_min_keypoint_score_unlabels_weak_joints(tmp_path, cli) -> None:
    schema = load_schema(GECKO)
    kp = np.zeros((schema.num_joints, 3))
    kp[:, :2] = np.arange(2 * schema.num_joints).reshape(-1, 2) + 5
    kp[:, 2] = np.linspace(0.05, 0.9, schema.num_joints)
    image = {"id": 7, "file_name": "a.png", "width": 50, "height": 40}
    ann = {"image_id": 7, "keypoints": kp.ravel().tolist(), "score": 0.5}
    save_results(tmp_path / "r.json", build_results(schema, [image], [ann]))
    assert (
        cli("export", tmp_path / "r.json", "-o", tmp_path / "t.json", "--min-keypoint-score", "0.5").code == 0
    )
    out = json.loads((tmp_path / "t.json").read_text())["annotations"][0]
    got = np.asarray(out["keypoints"]).reshape(-1, 3)
    strong = kp[:, 2] >= 0.5
    np.testing.assert_array_equal(got[:, 2], np.where(strong, 2, 0))
    np.testing.assert_allclose(got[strong, :2], kp[strong, :2])
    assert out["num_keypoints"] == int(strong.sum())


def test_export_bad_inputs_are_one_line_errors(tmp_path, cli) -> None:
    missing = cli("export", tmp_path / "nope.json", "--out", tmp_path / "t.json")
    assert missing.code == 2 and "nope.json" in missing.err and len(missing.err.strip().splitlines()) == 1
    (tmp_path / "coco.json").write_text(json.dumps({"images": [], "annotations": []}))
    wrong = cli("export", tmp_path / "coco.json", "--out", tmp_path / "t.json")
    assert wrong.code == 2 and "format" in wrong.err
    assert not (tmp_path / "t.json").exists()


def test_export_help(cli) -> None:
    result = cli("export", "--help")
    assert result.code == 0 and "--min-score" in result.out


def test_export_project_keeps_corrections_and_visibility(tmp_path, cli) -> None:
    from aegroup.io.project import Project, ProjectImage, ProjectInstances, save_project

    schema = load_schema(GECKO)
    k = schema.num_joints
    # Instances: kept (confident), dropped by --min-score, kept (a person corrected it; occluded joints
    # stay v=1), dropped (added but no labelled joint: nothing to train on).
    status = np.array([0, 0, 1, 2], np.int8)
    score = np.array([0.9, 0.1, 0.1, np.nan])
    keypoints = np.zeros((4, k, 3))
    keypoints[:, :, 0] = (10 * np.arange(1, 5))[:, None]
    keypoints[:, :, 1] = np.arange(k)
    keypoints[:, :, 2] = np.array([2, 2, 1, 0])[:, None]
    instances = ProjectInstances(
        ids=np.arange(1, 5),
        status=status,
        score=score,
        keypoints=keypoints,
        scores=np.full((4, k), np.nan),
        tags=np.full((4, k, 1), np.nan),
        origin=np.zeros((4, k), np.int8),
    )
    image = ProjectImage(id=5, file_name="a.png", width=100, height=80, instances=instances)
    project = Project(schema=schema, image_dir="images", tag_dim=1, images=[image])
    save_project(tmp_path / "p.aeproj", project)
    result = cli("export", tmp_path / "p.aeproj", "--out", tmp_path / "t.json", "--min-score", "0.5")
    assert result.code == 0, result.err
    anns = json.loads((tmp_path / "t.json").read_text())["annotations"]
    assert [a["keypoints"][2::3] for a in anns] == [[2] * k, [1] * k]
    assert [a["keypoints"][0] for a in anns] == [10.0, 30.0]
    assert all(a["image_id"] == 5 for a in anns)

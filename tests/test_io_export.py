"""`aegroup export`: results file / GUI project -> COCO training file that the data pipeline reads back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aegroup.io.coco import load_coco
from aegroup.io.project import Project, ProjectImage, ProjectInstances
from aegroup.io.results import build_results, save_results
from aegroup.schema import PoseSchema, load_schema
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
    from aegroup.io.project import save_project

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


def _project(
    schema: PoseSchema, images_spec: list[tuple[int, bool, list[int], np.ndarray, np.ndarray]]
) -> Project:
    """A project from (image id, reviewed, status (N,), origin (N, K), keypoints (N, K, 3)) tuples."""

    k = schema.num_joints
    images = []
    for image_id, reviewed, status, origin, keypoints in images_spec:
        n = len(status)
        scores = np.where(keypoints[:, :, 2] > 0, 0.8, np.nan)
        instances = ProjectInstances(
            ids=np.arange(1, n + 1),
            status=np.asarray(status, np.int8),
            score=np.full(n, 0.8),
            keypoints=keypoints,
            scores=scores,
            tags=np.full((n, k, 1), np.nan),
            origin=np.asarray(origin, np.int8),
        )
        images.append(
            ProjectImage(
                id=image_id,
                file_name=f"{image_id}.png",
                width=100,
                height=80,
                reviewed=reviewed,
                instances=instances,
            )
        )
    return Project(schema=schema, image_dir="images", tag_dim=1, images=images)


def _provenance_project() -> tuple[PoseSchema, Project]:
    """Five images of one instance each, every joint present (v=2), joint 0 refined-in, joint 1 as given:
    1 reviewed, unchecked; 2 unreviewed, unchecked; 3 unreviewed, accepted; 4 unreviewed, unchecked
    but joint 1 moved by a person; 5 unreviewed, drawn by a person."""
    schema = load_schema(GECKO)
    k = schema.num_joints
    keypoints = np.zeros((1, k, 3))
    keypoints[0, :, 0] = np.arange(k) + 10
    keypoints[0, :, 1] = 20
    keypoints[0, :, 2] = 2
    origin = np.zeros((1, k), np.int8)
    origin[0, 0] = 1  # refined

    def moved(code: int) -> np.ndarray:
        out = origin.copy()
        out[0, 1] = code
        return out

    spec = [
        (1, True, [0], origin, keypoints),
        (2, False, [0], origin, keypoints),
        (3, False, [1], origin, keypoints),
        (4, False, [0], moved(2), keypoints),
        (5, False, [2], np.full((1, k), 3, np.int8), keypoints),
    ]
    return schema, _project(schema, spec)


def test_export_project_writes_only_trustworthy_joints_and_filters_images(tmp_path, cli) -> None:
    from aegroup.io.project import save_project

    schema, project = _provenance_project()
    k = schema.num_joints
    path = save_project(tmp_path / "p.aeproj", project)
    visible = {}
    for only in ("all", "reviewed", "edited"):
        result = cli("export", path, "--out", tmp_path / f"{only}.json", "--only", only)
        assert result.code == 0, result.err
        data = json.loads((tmp_path / f"{only}.json").read_text())
        visible[only] = {a["image_id"]: a["keypoints"][2::3] for a in data["annotations"]}
        assert [im["id"] for im in data["images"]] == sorted(visible[only])
    every = [2] * k
    unchecked = [0] + [2] * (k - 1)  # the refined-in joint of an unchecked prediction is no label
    assert visible["all"] == {1: every, 2: unchecked, 3: every, 4: unchecked, 5: every}
    assert visible["reviewed"] == {1: every}
    assert visible["edited"] == {3: every, 4: unchecked, 5: every}
    bad = cli("export", path, "--out", tmp_path / "x.json", "--only", "fixed")
    assert bad.code == 2 and "--only" in bad.err and not (tmp_path / "x.json").exists()


def test_export_results_drops_refined_joints_and_keeps_user_instances(tmp_path, cli) -> None:
    schema = load_schema(GECKO)
    k = schema.num_joints
    kp = np.zeros((k, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = np.arange(k) + 5, 7, 0.9
    origin = [1, 1] + [0] * (k - 2)
    user = kp.copy()
    user[:, 2] = 1  # a person's instance: third values are visibility (occluded)
    images = [{"id": i, "file_name": f"{i}.png", "width": 50, "height": 40} for i in (1, 2)]
    anns = [
        {"image_id": 1, "keypoints": kp.ravel().tolist(), "score": 0.9, "origin": origin},
        {"image_id": 2, "keypoints": kp.ravel().tolist(), "score": 0.9},
        {"image_id": 2, "keypoints": user.ravel().tolist(), "score": 1.0, "user": True},
    ]
    save_results(tmp_path / "r.json", build_results(schema, images, anns))
    assert cli("export", tmp_path / "r.json", "-o", tmp_path / "all.json").code == 0
    got = [a["keypoints"][2::3] for a in json.loads((tmp_path / "all.json").read_text())["annotations"]]
    assert got == [[0, 0] + [2] * (k - 2), [2] * k, [1] * k]
    assert cli("export", tmp_path / "r.json", "-o", tmp_path / "e.json", "--only", "edited").code == 0
    assert [im["id"] for im in json.loads((tmp_path / "e.json").read_text())["images"]] == [2]
    reviewed = cli("export", tmp_path / "r.json", "-o", tmp_path / "v.json", "--only", "reviewed")
    assert reviewed.code == 2 and "review" in reviewed.err


def test_a_project_started_from_results_exports_as_the_results_do(tmp_path) -> None:
    """Before anyone edits it, a project opened from a results file holds the same labels."""
    from aegroup.io.export import project_to_coco, results_to_coco
    from aegroup.io.review import project_from_results

    schema = load_schema(GECKO)
    k = schema.num_joints
    rng = np.random.default_rng(5)
    images = [{"id": i, "file_name": f"{i}.png", "width": 64, "height": 64} for i in range(1, 5)]
    anns = []
    for i in range(12):
        kp = np.column_stack([rng.uniform(0, 64, (k, 2)), rng.uniform(0, 1, k) * (rng.random(k) < 0.8)])
        ann = {"image_id": i % 4 + 1, "keypoints": kp.ravel().tolist(), "score": float(rng.uniform())}
        ann["tags"] = rng.normal(size=(k, 1)).tolist()
        if i % 3:
            ann["origin"] = rng.integers(0, 2, k).tolist()
        if i % 5 == 0:
            ann["user"] = True
            kp[:, 2] = rng.integers(0, 3, k)
            ann["keypoints"] = kp.ravel().tolist()
        anns.append(ann)
    results = build_results(schema, images, anns)
    project = project_from_results(results, "images")
    for only in ("all", "edited"):
        for scores in ((0.0, 0.0), (0.4, 0.5)):
            assert project_to_coco(project, *scores, only=only) == results_to_coco(
                results, *scores, only=only
            )
    statuses = np.concatenate([im.instances.status for im in project.images])
    assert sorted(statuses.tolist()) == sorted(int(bool(a.get("user"))) for a in anns)

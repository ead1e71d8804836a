"""Document, edits and commands without Qt: apply/revert restore the document exactly; edits work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aegroup.io.poses import ABSENT, OCCLUDED, VISIBLE
from aegroup.io.provenance import InstanceStatus, JointOrigin
from aegroup.schema import load_schema
from aegroup_gui.demo import noisy_results, random_coco
from aegroup_gui.model import actions, edits
from aegroup_gui.model.commands import CommandGroup, EditAnnotations
from aegroup_gui.model.document import Document
from aegroup_gui.model.files import open_results
from aegroup_gui.model.uncertainty import image_uncertainty, keypoint_doubt


def make_document(tmp_path: Path, n_images: int = 3, n_instances: int = 4, tag_dim: int = 1) -> Document:
    """A document opened from a noisy results file over random ground truth."""
    schema = load_schema("coco17")
    coco = random_coco(schema, n_images, n_instances, seed=1)
    results = noisy_results(coco, schema, tag_dim=tag_dim, swap_prob=0.05, seed=2)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    return open_results(path, tmp_path)


@pytest.fixture(scope="module")
def base_doc(tmp_path_factory: pytest.TempPathFactory) -> Document:
    """One document shared by the property tests (each test restores it)."""
    return make_document(tmp_path_factory.mktemp("doc"))


OPS = [
    "move",
    "delete",
    "cycle",
    "add",
    "reassign",
    "split",
    "swap_types",
    "swap_left",
    "merge",
    "delete_instances",
    "accept",
    "accept_image",
    "toggle_reviewed",
    "regroup",
    "switch_image",
]


def run_op(doc: Document, op: str, picks: list[int], value: float, drag_id: int):
    """Select some keypoints from `picks`, then turn `op` into a command (None when refused)."""
    keys = doc.image.annotations.present_keys()
    if op == "switch_image":
        doc.set_current(picks[0] % len(doc.images))
        return None
    doc.set_selection([keys[p % len(keys)] for p in picks] if keys else [])
    try:
        if op == "move":
            if not keys:
                return None
            return actions.move(doc, keys[picks[0] % len(keys)], (value, value / 2), drag_id).command
        if op == "add":
            owners = doc.selected_instances()
            joint = actions.next_missing_joint(doc, owners[0]) if owners else None
            return None if joint is None else actions.add_joint(doc, owners[0], joint, (value, value)).command
        if op == "reassign":
            return actions.reassign(doc, picks[-1] % 5).command
        if op == "regroup":
            return actions.regroup(doc, ["hungarian", "greedy"][picks[0] % 2], 0.2 + value / 100).command
        simple = {
            "delete": actions.delete_keypoints,
            "cycle": actions.cycle_visibility,
            "split": lambda d: actions.reassign(d, None),
            "swap_types": actions.swap_types,
            "swap_left": lambda d: actions.swap_side(d, "left"),
            "merge": actions.merge,
            "delete_instances": actions.delete_instances,
            "accept": actions.accept_instances,
            "accept_image": actions.accept_image,
            "toggle_reviewed": actions.toggle_reviewed,
        }
        return simple[op](doc).command
    except actions.Refused:
        return None


step = st.tuples(
    st.sampled_from(OPS),
    st.lists(st.integers(0, 200), min_size=1, max_size=4),
    st.floats(0, 500, allow_nan=False),
    st.integers(0, 2),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=12))
def test_random_command_sequences_revert_exactly(base_doc: Document, steps) -> None:
    doc = base_doc
    doc.set_current(0)
    history = [doc.snapshot()]
    done = []
    for op, picks, value, drag_id in steps:
        command = run_op(doc, op, picks, value, drag_id)
        if command is None:
            continue
        command.apply(doc)
        if done and isinstance(command, EditAnnotations) and _merges(done[-1], command):
            history[-1] = doc.snapshot()  # a drag step folded into the previous command
        else:
            done.append(command)
            history.append(doc.snapshot())
        _check_invariants(doc)
    for command, before in zip(reversed(done), reversed(history[:-1]), strict=True):
        command.revert(doc)
        assert doc.same_state(before)
    for command, after in zip(done, history[1:], strict=True):
        command.apply(doc)
        assert doc.same_state(after)
    for command in reversed(done):
        command.revert(doc)
    assert doc.same_state(history[0])


def _merges(previous: object, command: EditAnnotations) -> bool:
    return isinstance(previous, EditAnnotations) and previous.merge(command)


def _check_invariants(doc: Document) -> None:
    for image in doc.images:
        ann = image.annotations
        assert len(set(ann.ids.tolist())) == ann.num_instances
        assert ann.keypoints.shape == (ann.num_instances, doc.schema.num_joints, 3)
        assert set(np.unique(ann.keypoints[:, :, 2])) <= {0.0, 1.0, 2.0}
        assert not ann.keypoints[~ann.present()].any()  # absent joints are exactly 0, 0, 0


def test_drag_merges_into_one_step(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    key = doc.image.annotations.present_keys()[0]
    before = doc.image.annotations
    first = actions.move(doc, key, (10.0, 20.0), drag_id=7).command
    first.apply(doc)
    for x in (11.0, 12.0, 13.0):
        later = actions.move(doc, key, (x, 20.0), drag_id=7).command
        later.apply(doc)
        assert first.merge(later)
    other = actions.move(doc, key, (50.0, 50.0), drag_id=8).command
    assert not first.merge(other)
    row = doc.image.annotations.row(key[0])
    assert tuple(doc.image.annotations.keypoints[row, key[1], :2]) == (13.0, 20.0)
    first.revert(doc)
    assert doc.image.annotations.same_as(before)


def test_reassign_moves_the_joint_and_swaps_back_an_occupied_one(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    ann = doc.image.annotations
    present = ann.present()
    k = int(np.flatnonzero(present[0] & present[1])[0])
    a, b = int(ann.ids[0]), int(ann.ids[1])
    after = edits.reassign(ann, [(a, k)], b)
    assert np.array_equal(after.keypoints[after.row(b), k], ann.keypoints[0, k])
    assert np.array_equal(after.keypoints[after.row(a), k], ann.keypoints[1, k])
    assert after.status[after.row(a)] == InstanceStatus.CORRECTED == after.status[after.row(b)]


def test_split_creates_a_hand_added_instance_and_drops_emptied_ones(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    ann = doc.image.annotations
    first = int(ann.ids[0])
    keys = [(first, int(k)) for k in np.flatnonzero(ann.present()[0])]
    after = edits.reassign(ann, keys, None)
    assert first not in after.ids.tolist()  # everything moved away: the emptied instance is gone
    new_row = after.row(ann.new_id())
    assert after.status[new_row] == InstanceStatus.ADDED
    assert np.array_equal(after.keypoints[new_row], ann.keypoints[0])


def test_merge_keeps_present_joints_and_higher_scores(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    ann = doc.image.annotations
    a, b = int(ann.ids[0]), int(ann.ids[1])
    merged = edits.merge(ann, a, b)
    assert merged.num_instances == ann.num_instances - 1
    row = merged.row(a)
    for k in range(ann.keypoints.shape[1]):
        pa, pb = ann.present()[0, k], ann.present()[1, k]
        if pb and (not pa or ann.scores[1, k] > ann.scores[0, k]):
            assert np.array_equal(merged.keypoints[row, k], ann.keypoints[1, k])
        else:
            assert np.array_equal(merged.keypoints[row, k], ann.keypoints[0, k])


def test_visibility_cycle_and_add(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    ann = doc.image.annotations
    inst = int(ann.ids[0])
    k = int(np.flatnonzero(ann.present()[0])[0])
    ann = edits.set_visibility(ann, [(inst, k)], VISIBLE)
    seen = []
    for _ in range(3):
        ann = edits.cycle_visibility(ann, [(inst, k)])
        seen.append(int(ann.keypoints[ann.row(inst), k, 2]))
        if seen[-1] == ABSENT:
            ann = edits.add_keypoint(ann, inst, k, (5.0, 6.0))
    assert seen == [OCCLUDED, ABSENT, OCCLUDED]
    assert ann.origin[ann.row(inst), k] == JointOrigin.ADDED
    assert np.isnan(ann.scores[ann.row(inst), k])


def test_side_joints_from_flip_pairs() -> None:
    schema = load_schema("coco17")
    left = [schema.joints[i] for i in edits.side_joints(schema, "left")]
    right = [schema.joints[i] for i in edits.side_joints(schema, "right")]
    assert left and all(name.startswith("left_") for name in left)
    assert right and all(name.startswith("right_") for name in right)


def test_accept_image_is_one_undo_step(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    snapshot = doc.snapshot()
    command = actions.accept_image(doc).command
    assert isinstance(command, CommandGroup)
    command.apply(doc)
    assert doc.image.reviewed and (doc.image.annotations.status == InstanceStatus.CORRECTED).all()
    command.revert(doc)
    assert doc.same_state(snapshot)


def test_refused_intents_say_why(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    with pytest.raises(actions.Refused, match="select keypoints"):
        actions.delete_keypoints(doc)
    doc.set_selection(doc.image.annotations.present_keys()[:1])
    with pytest.raises(actions.Refused, match="exactly two instances"):
        actions.merge(doc)
    with pytest.raises(actions.Refused, match="no instance #9"):
        actions.reassign(doc, 8)


def test_listeners_hear_changes(tmp_path: Path) -> None:
    doc = make_document(tmp_path)
    heard = []
    unsubscribe = doc.subscribe(lambda change: heard.append(change.kind))
    doc.set_selection(doc.image.annotations.present_keys()[:2])
    actions.delete_keypoints(doc).command.apply(doc)
    doc.set_current(1)
    unsubscribe()
    doc.set_current(0)
    assert heard == ["selection", "annotations", "current"]
    assert doc.changed == {0}


def test_uncertainty_flags_a_swapped_joint() -> None:
    schema = load_schema("coco17")
    coco = random_coco(schema, 1, 3, seed=3)
    clean = noisy_results(coco, schema, swap_prob=0.0, refine_prob=0.0, seed=4)
    from aegroup_gui.model.convert import annotations_from_results

    ann = annotations_from_results(clean["annotations"], schema, 1, None, 640)
    calm = image_uncertainty(ann)
    present = ann.present()
    k = int(np.flatnonzero(present[0] & present[1])[0])
    tags = ann.tags.copy()
    tags[[0, 1], k] = tags[[1, 0], k]  # the tag of instance 1's joint now sits in instance 0
    swapped = ann.evolve(tags=tags)
    doubt = keypoint_doubt(swapped)
    assert doubt[0, k] > 0.5 and doubt[1, k] > 0.5
    assert image_uncertainty(swapped) > calm
    # Instances a person checked are no longer doubtful.
    checked = swapped.evolve(status=np.full(swapped.num_instances, InstanceStatus.CORRECTED, np.int8))
    assert image_uncertainty(checked) == 0.0

"""DeepLabCut projects and CollectedData files: headers, unique bodyparts, predictions, bad files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from posesets import assert_same_poses, critter, synthetic_poses

from aegroup.errors import AegroupError
from aegroup.io.formats import load_poses, read_schema, save_poses
from aegroup.io.poses import Frame, PoseSet

pd = pytest.importorskip("pandas")


def test_single_animal_project(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", tracks=False, predicted=False)
    poses = replace(poses, frames=[f.select([0]) for f in poses.frames])
    project = save_poses(poses, tmp_path / "proj", to="dlc")
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    assert cfg["multianimalproject"] is False and cfg["bodyparts"] == critter().joints
    csv = project / "labeled-data" / "images" / "CollectedData_aegroup.csv"
    header = [line.split(",")[0] for line in csv.read_text().splitlines()[:4]]
    assert header == ["scorer", "bodyparts", "coords", "labeled-data"]
    assert_same_poses(poses, load_poses(project), occluded=False)
    # pandas reads the csv as DeepLabCut does, to the values of the .h5 it wrote.
    from_csv = pd.read_csv(csv, header=[0, 1, 2], index_col=[0, 1, 2])
    from_h5 = pd.read_hdf(csv.with_suffix(".h5"))
    np.testing.assert_array_equal(from_csv.to_numpy(), from_h5.to_numpy())
    assert list(from_h5.columns.names) == ["scorer", "bodyparts", "coords"]


def unique_parts_poses(folder: Path) -> PoseSet:
    """Two animals labelling the first six joints, and one 'single' instance with the last two."""
    poses = synthetic_poses(folder, images=3, occluded=False, predicted=False)
    frames = []
    for f in poses.frames:
        kp = f.keypoints[:2].copy()
        kp[:, 6:] = (np.nan, np.nan, 0)
        arena = np.full((1, 8, 3), np.nan)
        arena[0, :, 2] = 0
        arena[0, 6:] = [(5.5, 6.25, 2), (70.125, 60.0, 2)]
        frames.append(
            Frame.build(
                f.id, f.width, f.height, np.concatenate([kp, arena]), track=[0, 1, 2], file_name=f.file_name
            )
        )
    return replace(poses, frames=frames, tracks=["alpha", "beta", "single"])


def test_unique_bodyparts_round_trip(tmp_path: Path) -> None:
    poses = unique_parts_poses(tmp_path / "s")
    project = save_poses(poses, tmp_path / "proj", to="dlc")
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    assert cfg["individuals"] == ["alpha", "beta"] and cfg["bodyparts"] == "MULTI!"
    assert cfg["uniquebodyparts"] == ["tail_base", "tail_tip"]
    assert cfg["multianimalbodyparts"] == critter().joints[:6]
    frame = pd.read_hdf(project / "labeled-data" / "images" / "CollectedData_aegroup.h5")
    assert sorted(set(frame.columns.get_level_values("individuals"))) == ["alpha", "beta", "single"]
    assert list(frame["aegroup"]["single"].columns.get_level_values("bodyparts").unique()) == [
        "tail_base",
        "tail_tip",
    ]
    back = load_poses(project)
    assert back.schema.joints == critter().joints
    assert_same_poses(poses, back)


CONFIG = """\
Task: mice
scorer: Jane
date: Jan1
multianimalproject: true
identity: false
project_path: /somewhere/else
video_sets:
  /videos/arena.mp4:
    crop: 0, 40, 0, 30
individuals: [m1, m2]
uniquebodyparts: [corner]
multianimalbodyparts: [nose, earL, earR, tail]
bodyparts: MULTI!
skeleton:
- [nose, earL]
- [nose, earR, tail]
"""

CSV = """\
scorer,,,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane,Jane
individuals,,,m1,m1,m1,m1,m1,m1,m1,m1,m2,m2,m2,m2,m2,m2,m2,m2,single,single
bodyparts,,,nose,nose,earL,earL,earR,earR,tail,tail,nose,nose,earL,earL,earR,earR,tail,tail,corner,corner
coords,,,x,y,x,y,x,y,x,y,x,y,x,y,x,y,x,y,x,y
labeled-data,arena,img07.png,10.5,11.25,9,8,12,8,,,30.125,20,,,,,31,25,1,2
labeled-data,arena,img12.png,,,,,,,,,30,21,29,20,31,20,30,28,,
"""


def dlc_project(tmp_path: Path, csv: str = CSV) -> Path:
    root = tmp_path / "mice-Jane-2024-01-01"
    (root / "labeled-data" / "arena").mkdir(parents=True)
    (root / "config.yaml").write_text(CONFIG)
    (root / "labeled-data" / "arena" / "CollectedData_Jane.csv").write_text(csv)
    for name in ("img07.png", "img12.png"):
        Image.new("L", (40, 30)).save(root / "labeled-data" / "arena" / name)
    return root


def test_reads_a_deeplabcut_project(tmp_path: Path) -> None:
    root = dlc_project(tmp_path)
    schema = read_schema(root)
    assert schema.name == "mice" and schema.joints == ["nose", "earL", "earR", "tail", "corner"]
    assert schema.edges == [("nose", "earL"), ("nose", "earR"), ("earR", "tail")]
    assert schema.flip_pairs == [("earL", "earR")]
    poses = load_poses(root)
    assert poses.tracks == ["m1", "m2", "single"]
    first, second = poses.frames
    assert first.file_name == "labeled-data/arena/img07.png" and (first.width, first.height) == (40, 30)
    assert first.num_instances == 3 and second.num_instances == 1  # individuals with no point are absent
    np.testing.assert_array_equal(first.keypoints[0, :3], [[10.5, 11.25, 2], [9, 8, 2], [12, 8, 2]])
    assert np.isnan(first.keypoints[0, 3, :2]).all() and first.keypoints[0, 3, 2] == 0
    assert first.track.tolist() == [0, 1, 2] and second.track.tolist() == [1]
    np.testing.assert_array_equal(first.keypoints[2, 4], [1, 2, 2])
    assert first.present()[2].tolist() == [False, False, False, False, True]
    # The same labels from the CollectedData file alone (config found above it) and from config.yaml.
    alone = load_poses(root / "labeled-data" / "arena" / "CollectedData_Jane.csv")
    assert_same_poses(poses, alone)
    assert_same_poses(poses, load_poses(root / "config.yaml"))


def test_single_index_column_csv(tmp_path: Path) -> None:
    csv = "\n".join(
        [
            line.replace(",,,", ",", 1)
            if i < 4
            else line.replace("labeled-data,arena,", "labeled-data/arena/", 1)
            for i, line in enumerate(CSV.splitlines())
        ]
    )
    root = dlc_project(tmp_path, csv + "\n")
    assert_same_poses(load_poses(dlc_project(tmp_path / "b")), load_poses(root))


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (CSV.replace("bodyparts,,,", "parts,,,"), "field 'header'"),
        (CSV.replace("coords,,,x,y,", "coords,,,x,z,"), "field 'header'|field 'coords'"),
        (CSV.replace("10.5", "ten"), "line 5: field 'coords': 'ten' is not a number"),
        (CSV.replace("img12.png,,", "img12.png,"), "line 6: has 20 cells, the header has 21"),
        ("a,b\n1,2\n", "field 'header'"),
    ],
)
def test_bad_csv_is_one_line_naming_the_file(csv: str, message: str, tmp_path: Path) -> None:
    root = dlc_project(tmp_path, csv)
    with pytest.raises(AegroupError, match=message) as err:
        load_poses(root / "labeled-data" / "arena" / "CollectedData_Jane.csv")
    assert "CollectedData_Jane.csv" in str(err.value) and "\n" not in str(err.value)


def test_analysis_output_is_predictions_on_a_video(tmp_path: Path) -> None:
    from posesets import encode

    video = encode(tmp_path / "arena.mp4", "mpeg4", gop=10)
    csv = tmp_path / "arenaDLC_resnet50_miceJan1shuffle1_1000.csv"
    csv.write_text(
        "scorer,net,net,net,net,net,net\nbodyparts,nose,nose,nose,tail,tail,tail\n"
        "coords,x,y,likelihood,x,y,likelihood\n0,1.5,2.5,0.9,3,4,0.2\n7,,,0.01,5,6,0.8\n"
    )
    with pytest.raises(AegroupError, match="--video"):
        load_poses(csv)
    poses = load_poses(csv, video=video)
    assert [f.frame_index for f in poses.frames] == [0, 7] and not poses.frames[0].user.any()
    np.testing.assert_allclose(poses.frames[0].scores, [[0.9, 0.2]])
    assert poses.frames[1].present().tolist() == [[False, True]]


def test_two_instances_on_one_track_cannot_be_written(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=1, predicted=False)
    f = poses.frames[0]
    poses = replace(poses, frames=[replace(f, track=np.zeros(f.num_instances, np.int64))])
    with pytest.raises(AegroupError, match="two instances on track 'alpha'"):
        save_poses(poses, tmp_path / "proj", to="dlc")
    assert not (tmp_path / "proj").exists()


def test_untracked_instances_fill_individual_slots(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=2, tracks=False, predicted=False)
    project = save_poses(poses, tmp_path / "proj", to="dlc")
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    assert cfg["individuals"] == ["individual1", "individual2", "individual3"][: len(cfg["individuals"])]
    assert_same_poses(poses, load_poses(project), occluded=False, tracks=False)


def test_damaged_h5_and_existing_destination(tmp_path: Path) -> None:
    poses = synthetic_poses(tmp_path / "s", images=1, predicted=False)
    project = save_poses(poses, tmp_path / "proj", to="dlc")
    h5 = project / "labeled-data" / "images" / "CollectedData_aegroup.h5"
    cut = tmp_path / "CollectedData_x.h5"
    cut.write_bytes(h5.read_bytes()[:3000])
    with pytest.raises(AegroupError, match=r"not a readable DeepLabCut \.h5 file") as err:
        load_poses(cut)
    assert "\n" not in str(err.value)
    with pytest.raises(AegroupError, match="already exists and is not an empty folder"):
        save_poses(poses, project, to="dlc")
    assert h5.is_file()  # nothing of the user's was touched

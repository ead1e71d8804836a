"""The stacked-hourglass AE network: config presets, shapes, memory formats, autocast and training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aegroup.errors import AegroupError
from aegroup.loss import LossConfig, total_loss
from aegroup.model import PRESETS, ModelConfig, build_model
from aegroup.schema import PoseSchema

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synth_batch(synth_set: tuple[Path, Path, PoseSchema], indices: list[int]) -> dict:
    """Evaluation-mode (un-augmented) batch of the session's synthetic images at 128 px input."""
    from aegroup.data import CocoPoseDataset, collate

    ann, images, schema = synth_set
    dataset = CocoPoseDataset(ann, images, schema, train=False, input_size=128, max_instances=4)
    return collate([dataset[i] for i in indices])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_gives_per_stack_heatmaps_and_tags(name: str) -> None:
    cfg = ModelConfig.preset(name, num_joints=5, tag_dim=3)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert len(out.heatmaps) == len(out.tags) == cfg.nstack
    for heat, tags in zip(out.heatmaps, out.tags, strict=True):
        assert heat.shape == (2, 5, 16, 16)
        assert tags.shape == (2, 5, 3, 16, 16)
        assert torch.isfinite(heat).all() and torch.isfinite(tags).all()
    assert cfg.output_stride == 4 and cfg.input_size == PRESETS[name]["input_size"]


def test_paper_preset_sizes() -> None:
    cfg = ModelConfig.preset("paper", num_joints=17)
    assert (cfg.nstack, cfg.channels, cfg.increase, cfg.depth, cfg.input_size) == (4, 256, 128, 4, 512)


def test_any_input_size_and_heatmaps_start_near_zero() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig.preset("tiny", num_joints=4)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 100, 76))  # not a multiple of 4 * 2**depth
    assert out.heatmaps[-1].shape == (1, 4, 25, 19)
    assert out.tags[-1].shape == (1, 4, 1, 25, 19)
    for heat in out.heatmaps:
        assert heat.abs().max() < 0.05
    # Tags start spread out (default init), so the push term has a gradient from the first step.
    assert out.tags[0].std() > 0.01


def test_preset_errors_are_one_line() -> None:
    with pytest.raises(AegroupError, match="model preset 'huge' is unknown"):
        ModelConfig.preset("huge", num_joints=3)
    with pytest.raises(AegroupError, match=r"model preset 'tiny': field 'channels'") as err:
        ModelConfig.preset("tiny", num_joints=3, channels=0)
    assert "\n" not in str(err.value)
    assert ModelConfig.preset("mid", num_joints=3, nstack=1).nstack == 1


def test_channels_last_matches_contiguous() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig.preset("tiny", num_joints=3, tag_dim=2)).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(images)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(images.to(memory_format=torch.channels_last))
    for a, b in zip(ref.heatmaps + ref.tags, out.heatmaps + out.tags, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_trains(synth_set: tuple[Path, Path, PoseSchema]) -> None:
    batch = synth_batch(synth_set, [0, 1])
    torch.manual_seed(0)
    model = build_model(ModelConfig.preset("tiny", num_joints=len(synth_set[2].joints)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch["image"])
        terms = total_loss(out, batch["heatmaps"], batch["mask"], batch["joints"], LossConfig())
    assert out.heatmaps[0].dtype == torch.bfloat16
    assert terms.total.dtype == torch.float32 and torch.isfinite(terms.total)
    terms.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_one_step_lowers_the_loss(synth_set: tuple[Path, Path, PoseSchema]) -> None:
    batch = synth_batch(synth_set, [0, 1, 2, 3])
    torch.manual_seed(0)
    model = build_model(ModelConfig.preset("tiny", num_joints=len(synth_set[2].joints)))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    cfg = LossConfig()

    def loss() -> torch.Tensor:
        out = model(batch["image"])
        return total_loss(out, batch["heatmaps"], batch["mask"], batch["joints"], cfg).total

    before = loss()
    optimiser.zero_grad()
    before.backward()
    optimiser.step()
    with torch.no_grad():
        after = loss()
    assert after < before


def heatmap_peaks(heat: torch.Tensor, threshold: float) -> set[tuple[int, int, int]]:
    """(k, y, x) of the 3x3 local maxima above `threshold` in heatmaps `[K, H, W]`."""
    pooled = torch.nn.functional.max_pool2d(heat[None], 3, stride=1, padding=1)[0]
    return {tuple(p) for p in ((heat == pooled) & (heat > threshold)).nonzero().tolist()}


@pytest.mark.slow
def test_tiny_model_overfits_one_image(synth_set: tuple[Path, Path, PoseSchema]) -> None:
    batch = synth_batch(synth_set, [0])
    joints = batch["joints"][0]  # [M, K, 2]
    present = joints[..., 1].bool().any(dim=1)
    assert present.sum() >= 2, "the fixture's first image should hold several instances"
    schema = synth_set[2]
    torch.manual_seed(0)
    model = build_model(ModelConfig.preset("tiny", num_joints=len(schema.joints)))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(80):
        out = model(batch["image"])
        terms = total_loss(out, batch["heatmaps"], batch["mask"], batch["joints"], LossConfig())
        optimiser.zero_grad()
        terms.total.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        out = model(batch["image"])
    heat, tags = out.heatmaps[-1][0], out.tags[-1][0]  # [K, H, W], [K, D, H, W]
    _, h, w = heat.shape

    # Every visible joint is a peak (within a pixel), and nothing else is.
    visible = joints[joints[..., 1] > 0][:, 0].tolist()
    expected = {(i // (h * w), i % (h * w) // w, i % w) for i in visible}
    found = heatmap_peaks(heat, threshold=0.5)

    def near(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
        return a[0] == b[0] and abs(a[1] - b[1]) <= 1 and abs(a[2] - b[2]) <= 1

    missed = [e for e in expected if not any(near(e, f) for f in found)]
    spurious = [f for f in found if not any(near(e, f) for e in expected)]
    assert not missed and not spurious, f"missed {missed}, spurious {spurious}"

    # Each joint's tag is nearest to its own instance's mean tag, and instance means are well apart.
    flat = tags.movedim(1, -1).reshape(-1, tags.shape[1])  # [K*H*W, D]
    people = joints[present]
    refs = torch.stack([flat[p[p[:, 1] > 0, 0]].mean(dim=0) for p in people])  # [N, D]
    assert torch.cdist(refs, refs).add(torch.eye(len(refs)) * 1e9).min() > 0.5
    for n, person in enumerate(people):
        for index in person[person[:, 1] > 0, 0]:
            assert torch.linalg.vector_norm(refs - flat[index], dim=1).argmin() == n

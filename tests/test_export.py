"""``restore-export --onnx``: the graph onnxruntime runs gives what PyTorch gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore.export import OnnxRestoration, export_onnx, main
from restore.models.texture import texture_fill
from restore.models.weights import load_net
from restore.restorer import Restorer

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytestmark = pytest.mark.usefixtures("one_thread")


def photo(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(h) / 7.0, torch.arange(w) / 9.0, indexing="ij")
    clean = torch.stack([(x + c).sin() * (y - c).cos() * 0.3 + 0.5 for c in range(3)])[None]
    return (clean + 0.08 * torch.randn(clean.shape, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def exported(weights, tmp_path_factory):
    net = load_net(weights).float()
    path = export_onnx(net, tmp_path_factory.mktemp("onnx") / "model.onnx")
    return net, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (70, 129)])
@pytest.mark.parametrize("level", [float("nan"), 0.0, 25.0])
def test_onnxruntime_matches_pytorch_at_any_size_and_noise_level(exported, size, level):
    net, session = exported
    image = photo(*size).repeat(2, 1, 1, 1)  # a batch of 2
    mask = torch.zeros(2, 1, *size)
    mask[1, :, 5:20, 10:30] = 1
    image = net.fill_holes(image, mask)
    level = torch.tensor([level])
    (out,) = session.run(
        None, {"image": image.numpy(), "mask": mask.numpy(), "noise_level": level.numpy()}
    )
    with torch.no_grad():
        expected = OnnxRestoration(net)(image, mask, level).numpy()
    assert out.shape == (2, 3, *size) and out.dtype == np.float32
    assert np.abs(out - expected).max() < 1e-3
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_the_documented_steps_around_the_graph_give_restorers_inpainting(exported, weights):
    net, session = exported
    image = photo(48, 80, seed=1)
    mask = torch.zeros(1, 1, 48, 80)
    mask[..., 10:30, 20:50] = 1
    filled = net.fill_holes(image, mask)  # step before: the model's hole fill
    feeds = {"image": filled.numpy(), "mask": mask.numpy(), "noise_level": np.zeros(1, np.float32)}
    (out,) = session.run(None, feeds)
    out = np.where(mask.numpy() > 0, out, image.numpy())  # step after: keep the known pixels
    smooth = Restorer.from_checkpoint(weights, device="cpu", precision="fp32", texture=False)
    expected = smooth.inpaint(image, mask[0, 0] > 0)
    assert np.abs(out - expected.numpy()).max() < 1e-3
    assert not np.allclose(out, image.numpy(), atol=1e-3)  # the holes were filled
    # and the texture stage after it, on the whole image, is what Restorer does (run on the
    # graph's output it may pick other sources where two match equally well)
    restorer = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    textured = restorer.inpaint(image, mask[0, 0] > 0)
    assert torch.allclose(textured, texture_fill(expected, mask), atol=1e-5)


def test_restore_export_cli_writes_and_checks(tmp_path, weights, capsys):
    out = tmp_path / "sub" / "m.onnx"
    assert main(["--onnx", str(out), "--weights", str(weights), "--check"]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and not list(tmp_path.rglob("*.part"))
    diff = float(text.split("max abs diff ")[1].split(";")[0])
    assert diff < 1e-3
    assert main(["--onnx", str(tmp_path / "x.onnx"), "--weights", str(tmp_path / "none.pt")]) == 1
    said = f"restore-export: error: {tmp_path / 'none.pt'}: no such weights file or run folder\n"
    assert capsys.readouterr().err == said

"""Backends (restore.runtime, Restorer's ``backend``): the CPU runtimes give PyTorch's outputs,
``auto`` picks what it says, and the compiled graph is cached by the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore import Restorer
from restore.models import RestorationVAE
from restore.runtime import available, cache_dir, pick_backend

RUNTIMES = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(not available(name), reason=f"{name} is not installed"),
    )
    for name in ("openvino", "onnxruntime")
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _net(seed: int = 0) -> RestorationVAE:
    torch.manual_seed(seed)
    net = RestorationVAE(
        widths=[16, 24, 32], blocks=[1, 1, 1], latent_channels=4, noise_estimator=True
    )
    torch.nn.init.normal_(net.head.weight, std=0.02)
    return net


def _photo(h: int = 90, w: int = 130) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([np.sin(x / 9 + c) * np.cos(y / 7 - c) for c in range(3)], -1)
    return np.clip(127 + 80 * smooth + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("backend", RUNTIMES)
def test_a_runtime_restores_as_pytorch_does(backend, cache):
    net, image = _net(), _photo()
    mask = np.zeros(image.shape[:2], bool)
    mask[30:50, 40:90] = True
    ours = Restorer(net, device="cpu", precision="fp32", backend=backend)
    torch_ = Restorer(_net(), device="cpu", precision="fp32", backend="torch")
    assert ours.backend == backend
    for call in (
        lambda r: r.denoise(image),  # blind: the graph runs the noise estimator
        lambda r: r.denoise(image, sigma=25),
        lambda r: r.restore(image, mask),
        lambda r: r.inpaint(image, mask),
    ):
        a, b = call(ours).astype(int), call(torch_).astype(int)
        assert np.abs(a - b).max() <= 1
        assert np.abs(a - image).mean() > 1  # and it did change the image
    filled = ours.inpaint(image, mask)
    assert np.array_equal(filled[~mask], image[~mask])  # the known pixels kept exactly
    # tiles: the same graph on pieces of an image, blended as PyTorch's
    tiles = {"device": "cpu", "precision": "fp32", "tile": 64, "tile_overlap": 16}
    tiled = Restorer(_net(), backend=backend, **tiles).denoise(image)
    assert (
        np.abs(tiled.astype(int) - Restorer(_net(), backend="torch", **tiles).denoise(image)).max()
        <= 1
    )


@pytest.mark.parametrize("backend", RUNTIMES)
def test_the_compiled_graph_is_cached_by_the_weights(backend, cache):
    image = _photo(40, 40)
    Restorer(_net(0), device="cpu", backend=backend).denoise(image)
    first = sorted(p.name for p in cache.iterdir())
    assert len(first) == 1 and first[0].startswith(backend)
    # the same weights (another recognition network, which the graph does not run): one entry
    again = _net(0)
    torch.nn.init.normal_(again.posterior.conv.weight)
    Restorer(again, device="cpu", backend=backend).denoise(image)
    assert sorted(p.name for p in cache.iterdir()) == first
    # other weights: a second entry, and that network's output
    other = Restorer(_net(1), device="cpu", backend=backend)
    out = other.denoise(image)
    assert len(list(cache.iterdir())) == 2
    reference = Restorer(_net(1), device="cpu", backend="torch").denoise(image)
    assert np.abs(out.astype(int) - reference).max() <= 1
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no half-written folder


@pytest.mark.parametrize("backend", RUNTIMES)
def test_an_unwritable_cache_still_runs(backend, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(blocker / "cache"))
    out = Restorer(_net(), device="cpu", backend=backend).denoise(_photo(40, 40))
    assert out.shape == (40, 40, 3)
    assert blocker.read_text() == "not a folder"


def test_sampling_and_the_heads_run_in_pytorch_beside_a_runtime(cache):
    if not available("onnxruntime"):
        pytest.skip("onnxruntime is not installed")
    net = _net()
    ours = Restorer(net, device="cpu", backend="onnxruntime")
    theirs = Restorer(_net(), device="cpu", backend="torch")
    image = _photo(48, 48)
    a, b = ours.sample(image, n=1, seed=3)[0], theirs.sample(image, n=1, seed=3)[0]
    assert np.array_equal(a, b)
    assert np.array_equal(ours.estimate_noise(image), theirs.estimate_noise(image))
    assert not cache.exists()  # nothing compiled for them


def test_auto_picks_openvino_on_an_fp32_cpu_and_pytorch_elsewhere(monkeypatch):
    monkeypatch.delenv("RESTORE_BACKEND", raising=False)
    monkeypatch.setattr("restore.runtime.available", lambda name: True)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert pick_backend("auto", cpu, None) == "openvino"
    assert pick_backend("auto", cpu, torch.bfloat16) == "torch"  # a CPU with native bf16
    assert pick_backend("auto", cuda, torch.float16) == "torch"
    monkeypatch.setattr("restore.runtime.available", lambda name: name == "torch")
    assert pick_backend("auto", cpu, None) == "torch"  # not installed
    monkeypatch.setenv("RESTORE_BACKEND", "torch")
    monkeypatch.setattr("restore.runtime.available", lambda name: True)
    assert pick_backend("auto", cpu, None) == "torch"  # the machine's choice
    assert pick_backend("openvino", cpu, None) == "openvino"  # a named one is kept


@pytest.mark.parametrize(
    ("backend", "device", "message"),
    [
        ("tensorrt", "cpu", "backend must be one of auto, torch, onnxruntime, openvino"),
        ("openvino", "cuda", "backend openvino runs on the CPU, not on cuda"),
    ],
)
def test_a_wrong_backend_is_refused_in_one_line(backend, device, message):
    with pytest.raises(ValueError, match=message) as info:
        pick_backend(backend, torch.device(device), None)
    assert "\n" not in str(info.value)


def test_a_missing_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setattr("restore.runtime.available", lambda name: name == "torch")
    with pytest.raises(ValueError, match=r"pip install 'restore\[onnx\]'"):
        pick_backend("onnxruntime", torch.device("cpu"), None)
    with pytest.raises(ValueError, match=r"backend openvino is not installed"):
        Restorer(_net(), device="cpu", backend="openvino")


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RESTORE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "restore"


def test_a_runtime_that_fails_to_compile_falls_back_under_auto_and_stops_when_named(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no CPU plugin\nsecond line")

    monkeypatch.setattr("restore.restorer.compile_restoration", broken)
    monkeypatch.setattr("restore.runtime.available", lambda name: True)
    monkeypatch.delenv("RESTORE_BACKEND", raising=False)
    image = _photo(40, 40)
    auto = Restorer(_net(), device="cpu", precision="fp32", backend="auto")
    assert auto.backend == "openvino"
    with pytest.warns(UserWarning, match="openvino could not compile the network: no CPU plugin"):
        out = auto.denoise(image)
    assert auto.backend == "torch"
    reference = Restorer(_net(), device="cpu", precision="fp32", backend="torch").denoise(image)
    assert np.array_equal(out, reference)
    named = Restorer(_net(), device="cpu", precision="fp32", backend="openvino")
    with pytest.raises(
        RuntimeError, match=r"^openvino could not compile the network: no CPU plugin$"
    ):
        named.denoise(image)

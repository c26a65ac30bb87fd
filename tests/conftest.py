from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from restore.models import RestorationVAE
from restore.models.weights import export_weights

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests run the network in PyTorch unless they name a runtime (tests/test_runtime.py): compiling
# a graph per random test network would cost seconds each. Processes they start inherit it.
os.environ["RESTORE_BACKEND"] = "torch"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (benchmark and training photos); tests using it skip when it is absent."""
    if not (SHARED_DATA / "train").is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convolutions run far faster on one thread, especially next to other busy processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Where tests that take ``device`` run: the CPU in fp32 always; a GPU in fp16 and fp32 where
# torch sees one (a lent GPU machine runs them: tests/test_devices.py).
DEVICES = [("cpu", "fp32"), ("cuda", "fp16"), ("cuda", "fp32")]


@pytest.fixture(params=DEVICES, ids=[f"{d}-{p}" for d, p in DEVICES])
def device(request) -> tuple[str, str]:
    """A ``(device, precision)`` pair to run a ``Restorer`` with; the CUDA ones skip without a
    GPU."""
    kind, _ = request.param
    if kind == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return request.param


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    """Exported weights of a small random model whose head is not zero (an untrained net would be
    the identity)."""
    torch.manual_seed(0)
    net = RestorationVAE(widths=[16, 24, 32], blocks=[1, 1, 1], latent_channels=4)
    torch.nn.init.normal_(net.head.weight, std=0.02)
    return export_weights(net, tmp_path_factory.mktemp("weights") / "model.pt")


@pytest.fixture
def restorer(weights):
    """A ``Restorer`` of :func:`weights` on the CPU in fp32 (a fresh one per test: tests may set
    its attributes)."""
    from restore.restorer import Restorer

    return Restorer.from_checkpoint(weights, device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def shipped():
    """The shipped default model on the CPU in fp32, loaded once for the whole run (tests must not
    set its attributes; :func:`restorer` is a small random one)."""
    from restore.restorer import Restorer

    return Restorer.from_pretrained(device="cpu", precision="fp32")

"""The lent-GPU run (issue #36): ``scripts/gpu_pack.py`` packs an experiment's photos within a
budget and ``scripts/gpu_train.sh`` trains from the pack, exporting float16 weights to $OUT; both
at a tiny scale on this CPU, on photos the test writes in the data folder's layout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from helpers import photo

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, seed: int, size: int = 96) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), photo(seed, size, size))


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """photo_v3's folders: photos, RENOIR triplets (01 trains, the 4 held out validate), and a
    Nam25 pair."""
    root = tmp_path / "data"
    for i in range(6):
        _write(root / "train" / "CBSD432" / f"{i}.png", i)
        _write(root / "train" / "SunHays80" / f"{i}.png", 10 + i)
    for scene in ("01", "03", "04", "11", "15"):
        for j, suffix in enumerate(("_noisy", "_clean", "_reference")):
            _write(root / "real" / "RENOIR_T3i" / f"{scene}{suffix}.png", 20 + j)
    _write(root / "real" / "Nam25" / "01_noise.png", 30)
    _write(root / "real" / "Nam25" / "01_gt.png", 31)
    return root


def _pack(data_dir: Path, out: Path, budget_mib: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESTORE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_pack.py"), "--no-wheels", "--out", str(out),
         "--budget-mib", str(budget_mib)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_pack_keeps_the_pairs_fills_the_budget_and_leaves_other_validation_here(data_dir, tmp_path):
    pairs = sum(f.stat().st_size for f in (data_dir / "real" / "RENOIR_T3i").iterdir())
    one_photo = max(f.stat().st_size for f in (data_dir / "train").rglob("*.png"))
    budget = pairs + 3.5 * one_photo
    proc = _pack(data_dir, tmp_path / "pack", budget / 2**20)
    assert proc.returncode == 0, proc.stderr
    packed = tmp_path / "pack" / "data"
    assert sorted(p.name for p in (packed / "real" / "RENOIR_T3i").iterdir()) == sorted(
        p.name for p in (data_dir / "real" / "RENOIR_T3i").iterdir()
    )
    photos = list((packed / "train").rglob("*.png"))
    assert 3 <= len(photos) < 12
    assert sum(f.stat().st_size for f in packed.rglob("*.png")) <= budget
    assert not (packed / "real" / "Nam25").exists()
    assert (packed / "OVERRIDES").read_text().split() == [
        "experiment=photo_v3",
        "~data.real_val.nam25",
    ]
    left = (packed / "PACKED.txt").read_text().splitlines()
    assert len(left) - 1 == 12 - len(photos)
    # the same pack again: the seeded order gives the same photos
    assert _pack(data_dir, tmp_path / "again", budget / 2**20).returncode == 0
    assert sorted(p.name for p in (tmp_path / "again" / "data" / "train").rglob("*.png")) == sorted(
        p.name for p in photos
    )


def test_pack_refuses_a_budget_the_real_pairs_do_not_fit(data_dir, tmp_path):
    proc = _pack(data_dir, tmp_path / "pack", 0.001)
    assert proc.returncode != 0 and "RENOIR_T3i" in proc.stderr and "budget" in proc.stderr


@pytest.mark.slow
def test_gpu_train_trains_from_the_pack_and_exports_float16_weights(data_dir, tmp_path):
    assert _pack(data_dir, tmp_path / "pack", 10).returncode == 0
    out = tmp_path / "out"
    env = {
        **os.environ,
        "RESTORE_GPU_PACK": str(tmp_path / "pack"),
        "RESTORE_GPU_TRAINER": "cpu",
        "RESTORE_LOG_DIR": str(tmp_path / "runs"),
        "OUT": str(out),
        "PYTHON": sys.executable,
    }
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_train.sh"), "trainer.max_steps=2",
         "trainer.val_check_interval=2", "data.batch_size=2", "data.real_batch_size=1",
         "data.patch_size=32", "data.val_patch_size=64", "data.max_val_images=1"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    weights = torch.load(out / "model.pt", weights_only=True)
    assert {v.dtype for v in weights["state_dict"].values() if v.is_floating_point()} == {
        torch.float16
    }
    assert (out / "metrics.csv").read_text().count("\n") >= 2
    assert "max_steps=2" in (out / "train.log").read_text()

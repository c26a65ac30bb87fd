"""``scripts/demo.py`` (what ``make demo`` runs) writes its folders, picture and PSNR table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT
from PIL import Image

pytest.importorskip("skimage")


def test_demo_writes_degraded_restored_comparison_and_table(weights, tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--out",
            str(out),
            "--weights",
            str(weights),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = [
        f"{n}_{kind}.png" for n in ("astronaut", "chelsea", "coffee") for kind in ("noise", "holes")
    ]
    for folder in ("degraded", "restored"):
        assert sorted(p.name for p in (out / folder).iterdir()) == sorted(names)
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(
        n for n in names if "holes" in n
    )
    table = (out / "psnr.md").read_text()
    assert all(n in table for n in names)
    rows = [line for line in table.splitlines() if line.startswith("| ") and ".png" in line]
    assert len(rows) == 6
    noise_psnr = [float(r.split("|")[2]) for r in rows if "_noise" in r]
    assert all(19 < p < 22 for p in noise_psnr)  # sigma 25 noise on uint8 photos: about 20.2 dB
    with Image.open(out / "comparison.png") as picture:
        assert picture.width > 3 * 256 and picture.height > 6 * 200

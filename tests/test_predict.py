"""Restoring files with Lightning's predict loop: ``restore-image --devices N`` and the
``restore.predict`` pieces ML engineers put in their own ``Trainer``."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
from helpers import hole, photo
from PIL import Image
from test_cli import NESTED, TOP, make_inputs

from restore.io.images import read_image_file
from restore.predict import ImageFiles, PredictionModule, RestoredFileWriter, file_loader
from restore.restorer import Restorer

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def restore_image(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "restore.cli", *map(str, args)]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)


def report(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def mixed_folder(root: Path) -> Path:
    """test_cli's inputs (gray, RGB, RGBA, 16-bit PNG and TIFF, rotated JPEG, nested), a masked
    image and two bad files: 11 files."""
    src = make_inputs(root)
    (root / "masks").mkdir()
    Image.fromarray(photo(7)).save(src / "holed.png")
    Image.fromarray(hole().astype(np.uint8) * 255).save(root / "masks" / "holed.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (src / "sub" / "empty.jpg").write_bytes(b"")
    return src


@pytest.mark.slow
def test_two_cpu_processes_match_one_and_restore_each_file_once(tmp_path, weights):
    src = mixed_folder(tmp_path)
    common = [src, "-r", "--masks", tmp_path / "masks", "--weights", weights]
    one = restore_image(*common, "-o", tmp_path / "one", "--report", tmp_path / "one.csv")
    two = restore_image(
        *common,
        "-o",
        tmp_path / "two",
        "--devices",
        "2",
        "--accelerator",
        "cpu",
        "--report",
        tmp_path / "two.csv",
    )
    assert one.returncode == two.returncode == 1, two.stderr  # the two bad files fail alone
    expected = sorted([*TOP, *NESTED, "holed.png"])
    written = sorted(str(p.relative_to(tmp_path / "two")) for p in (tmp_path / "two").rglob("*"))
    assert [w for w in written if "." in Path(w).name] == expected
    for name in expected:
        a = read_image_file(tmp_path / "one" / name).pixels
        b = read_image_file(tmp_path / "two" / name).pixels
        np.testing.assert_array_equal(a, b, err_msg=name)
    rows = report(tmp_path / "two.csv")
    inputs = [r["input"] for r in rows]
    assert len(inputs) == len(set(inputs)) == len(expected) + 2  # each file once
    assert sorted(inputs) == sorted(r["input"] for r in report(tmp_path / "one.csv"))
    failed = {Path(r["input"]).name: r["error"] for r in rows if r["status"] == "failed"}
    assert set(failed) == {"broken.png", "empty.jpg"}
    assert all(name in error for name, error in failed.items())  # the message names the file
    assert "9 restored, 0 skipped, 2 failed" in two.stderr
    assert two.stderr.count("restore-image:") == 1  # one summary, from process 0

    # --skip-existing: nothing is done twice, and the report still lists each file once
    again = restore_image(
        *common, "-o", tmp_path / "two", "--devices", "2", "--accelerator", "cpu",
        "--skip-existing", "--report", tmp_path / "again.csv",
    )  # fmt: skip
    rows = report(tmp_path / "again.csv")
    assert again.returncode == 1
    assert sorted(r["status"] for r in rows).count("skipped") == len(expected)
    assert len({r["input"] for r in rows}) == len(rows) == len(expected) + 2


@pytest.mark.slow
def test_fewer_files_than_processes_and_usage_errors(tmp_path, weights):
    Image.fromarray(photo(0)).save(tmp_path / "a.png")
    one = restore_image(
        tmp_path / "a.png", "-o", tmp_path / "one", "--devices", "3", "--accelerator", "cpu",
        "--weights", weights,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert "1 restored, 0 skipped, 0 failed" in one.stderr
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["a.png"]
    both = restore_image(
        tmp_path / "a.png", "-o", tmp_path / "o", "--devices", "2", "--device", "cpu"
    )
    assert both.returncode == 2 and "not both" in both.stderr
    zero = restore_image(tmp_path / "a.png", "-o", tmp_path / "o", "--devices", "0")
    assert zero.returncode == 2 and "at least 1" in zero.stderr
    assert not (tmp_path / "o").exists()  # usage errors write nothing


def test_the_module_and_writer_in_a_users_trainer(tmp_path, weights):
    for i in range(3):
        Image.fromarray(photo(i)).save(tmp_path / f"p{i}.png")
    (tmp_path / "bad.png").write_bytes(b"junk")
    paths = sorted(tmp_path.glob("*.png"))
    written = {}

    def save(prediction):
        written[Path(prediction.item).name] = prediction.result.restored.image
        return prediction.result.restored.image.shape

    module = PredictionModule(weights=str(weights), precision="fp32")
    writer = RestoredFileWriter(save)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        callbacks=[writer],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.predict(module, file_loader(ImageFiles(paths)), return_predictions=False)
    assert [Path(p.item).name for p in writer.records] == [p.name for p in paths]
    bad = writer.records[0]
    assert bad.error.startswith(str(paths[0])) and "not a supported image" in bad.error
    assert bad.record is None and "bad.png" not in written
    reference = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    for p in writer.records[1:]:
        assert p.error == "" and p.result is None  # written, then dropped
        assert p.record == (64, 96, 3)
        expected = reference.denoise(read_image_file(p.item).pixels)
        np.testing.assert_array_equal(written[Path(p.item).name], expected)


def test_a_process_function_and_a_failing_write(weights):
    items = ["a", "b", "c"]

    def process(restorer, item):
        if item == "b":
            raise RuntimeError("no such thing")  # any error fails the item alone
        return restorer.denoise(photo(0)).mean()

    def write(prediction):
        if prediction.item == "c":
            raise OSError("disk full")
        return round(float(prediction.result), 1)

    writer = RestoredFileWriter(write)
    trainer = L.Trainer(accelerator="cpu", devices=1, callbacks=[writer], logger=False,
                        enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    module = PredictionModule(weights=str(weights), process=process)
    padded = ImageFiles(items, at_least=5)  # as for 5 processes: the padding is skipped
    assert len(padded) == 5 and padded[4] == (4, None)
    trainer.predict(module, file_loader(padded), return_predictions=False)
    a, b, c = writer.records
    assert a.error == "" and 0 < a.record < 255
    assert b.error == "b: no such thing" and c.error == "c: disk full"


def test_the_module_loads_the_shipped_default_model():
    module = PredictionModule()
    assert module.net.damage_head is not None and module.net.scale_head is not None  # photo


def test_bad_weights_are_one_line_naming_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(str(tmp_path / 'no.pt'))}: no such"):
        PredictionModule(weights=str(tmp_path / "no.pt"))

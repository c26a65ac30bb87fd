"""``restore-image``: folders in, restored files out; originals untouched, failures reported."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import H, W, hole, interrupt_denoise_after, photo
from PIL import Image

import restore.io.images as imagefile
from restore.cli import main
from restore.io.images import read_image_file

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
REPORT_COLUMNS = [
    "input", "output", "size", "noise_level", "filled", "seconds", "status", "error", "warning",
]  # fmt: skip


HOLE = hole()


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "ACME Cameras"
    return exif.tobytes()


def make_inputs(root: Path) -> Path:
    """in/: gray, RGB, RGBA (transparent hole), 16-bit PNG and TIFF, EXIF-rotated JPEG,
    subfolders."""
    src = root / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(photo(0)).save(src / "rgb.png")
    Image.fromarray(photo(1)[:, :, 1]).save(src / "gray.png")
    rgba = np.dstack([photo(2), np.full((H, W), 255, np.uint8)])
    rgba[HOLE] = (255, 0, 255, 0)  # transparent hole with junk colour
    Image.fromarray(rgba).save(src / "rgba.png")
    low_bits = np.random.default_rng(3).integers(0, 257, (H, W, 3)).astype(np.uint16)
    deep = photo(3).astype(np.uint16) * 257 + low_bits  # really 16-bit: not multiples of 257
    cv2.imwrite(str(src / "deep.png"), deep[:, :, ::-1])
    cv2.imwrite(str(src / "deep.tif"), deep[:, :, 0])
    Image.fromarray(photo(4)).save(src / "rot.jpg", exif=exif_bytes(6), quality=95)
    Image.fromarray(photo(5)).save(src / "sub" / "nested.png")
    Image.fromarray(photo(6)).save(src / "sub" / "deeper" / "leaf.jpg", quality=95)
    return src


TOP = ["deep.png", "deep.tif", "gray.png", "rgb.png", "rgba.png", "rot.jpg"]
NESTED = ["sub/deeper/leaf.jpg", "sub/nested.png"]


@pytest.fixture
def inputs(tmp_path) -> Path:
    return make_inputs(tmp_path)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def cli(capsys, weights: Path, *args) -> tuple[int, str, str]:
    argv = [str(a) for a in args] + ["--weights", str(weights), "--device", "cpu"]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text().splitlines()))


def pixels(path: Path) -> np.ndarray:
    return read_image_file(path).pixels


def change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


# ------------------------------------------------------------------------------------------------
# Whole folders


def test_folder_top_level(capsys, weights, inputs, tmp_path):
    before = digest(inputs)
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, inputs, "-o", out)
    assert code == 0, err
    assert files(out) == TOP  # no --recursive: subfolders left alone
    assert "6 restored, 0 skipped, 0 failed" in err
    assert digest(inputs) == before  # originals never modified

    rgb = pixels(out / "rgb.png")
    assert rgb.shape == (H, W, 3) and rgb.dtype == np.uint8
    assert 0.3 < change(rgb, pixels(inputs / "rgb.png")) < 40  # the model was applied

    gray = pixels(out / "gray.png")
    assert gray.shape == (H, W) and gray.dtype == np.uint8
    assert change(gray, pixels(inputs / "gray.png")) > 0.3

    rgba_in, rgba = pixels(inputs / "rgba.png"), pixels(out / "rgba.png")
    assert rgba.shape == (H, W, 4)
    np.testing.assert_array_equal(rgba[:, :, 3], rgba_in[:, :, 3])  # alpha kept (no mask option)

    for name in ("deep.png", "deep.tif"):
        raw = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint16, name  # 16 bits kept
        assert (raw % 257 != 0).any()
        assert change(raw, cv2.imread(str(inputs / name), cv2.IMREAD_UNCHANGED)) > 50
    assert cv2.imread(str(out / "deep.tif"), cv2.IMREAD_UNCHANGED).shape == (H, W)

    rot = pixels(out / "rot.jpg")
    assert rot.shape == (W, H, 3)  # EXIF rotation applied to the pixels
    with Image.open(out / "rot.jpg") as im:
        assert im.size == (H, W)
        assert im.getexif().get(0x0112) == 1 and im.getexif().get(0x010F) == "ACME Cameras"
    assert change(rot, pixels(inputs / "rot.jpg")) < 40  # same orientation as the rotated input


def test_folder_recursive_keeps_tree(capsys, weights, inputs, tmp_path):
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, inputs, "-o", out, "--recursive")
    assert code == 0, err
    assert files(out) == sorted(TOP + NESTED)
    assert pixels(out / "sub" / "deeper" / "leaf.jpg").shape == (H, W, 3)


def test_single_files_and_missing_input(capsys, weights, inputs, tmp_path):
    out = tmp_path / "out"
    code, _, err = cli(
        capsys,
        weights,
        inputs / "rgb.png",
        inputs / "sub" / "nested.png",
        tmp_path / "ghost.png",
        "-o",
        out,
    )
    assert code == 1
    assert files(out) == ["nested.png", "rgb.png"]
    assert "ghost.png" in err and "no such file" in err


def test_corrupt_file_among_good_ones(capsys, weights, inputs, tmp_path):
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 50)
    data = (inputs / "rot.jpg").read_bytes()
    (inputs / "cut.jpg").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, inputs, "-o", out, "--report", tmp_path / "r.csv")
    assert code == 1
    assert files(out) == TOP  # the good ones are all written
    summary = err[err.index("restore-image: 6 restored") :]
    assert "6 restored, 0 skipped, 2 failed" in summary
    assert str(inputs / "broken.png") in summary and str(inputs / "cut.jpg") in summary
    assert "truncated" in summary
    rows = {Path(r["input"]).name: r for r in read_csv(tmp_path / "r.csv")}
    assert rows["broken.png"]["status"] == "failed" and rows["cut.jpg"]["status"] == "failed"
    assert rows["rgb.png"]["status"] == "ok"


def test_exit_codes_in_subprocess(weights, inputs, tmp_path):
    """The installed console script: 0 when everything worked, 1 with a failed file, 2 on usage."""
    script = Path(sys.executable).with_name("restore-image")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "restore.cli"]
    common = ["--weights", str(weights), "--device", "cpu"]
    good = subprocess.run(
        [
            *cmd,
            str(inputs / "rgb.png"),
            str(inputs / "gray.png"),
            "-o",
            str(tmp_path / "a"),
            *common,
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    assert files(tmp_path / "a") == ["gray.png", "rgb.png"]
    (inputs / "broken.jpg").write_bytes(b"nope")
    bad = subprocess.run(
        [
            *cmd,
            str(inputs / "rgb.png"),
            str(inputs / "broken.jpg"),
            "-o",
            str(tmp_path / "b"),
            *common,
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "broken.jpg" in bad.stderr and files(tmp_path / "b") == ["rgb.png"]
    usage = subprocess.run(
        [*cmd, str(inputs), "-o", str(inputs), *common],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert usage.returncode == 2 and "would overwrite" in usage.stderr


# ------------------------------------------------------------------------------------------------
# Masks


def test_masks_folder_by_stem_and_size_mismatch(capsys, weights, inputs, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(hole().astype(np.uint8) * 255).save(masks / "rgb.bmp")  # other extension
    Image.fromarray(np.zeros((32, 48), np.uint8)).save(masks / "gray.png")  # wrong size
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, inputs, "-o", out, "--masks", masks)
    assert code == 1
    assert "gray.png" not in files(out) and "rgb.png" in files(out)
    assert str(masks / "gray.png") in err and "48x32" in err and f"{W}x{H}" in err
    src, res = pixels(inputs / "rgb.png"), pixels(out / "rgb.png")
    np.testing.assert_array_equal(res[~hole()], src[~hole()])  # known pixels exactly kept
    assert change(res[hole()], src[hole()]) > 1  # holes filled
    assert change(pixels(out / "rgba.png")[:, :, :3], pixels(inputs / "rgba.png")[:, :, :3]) > 0.3


def test_gray_alpha_png_stays_gray_alpha(capsys, weights, tmp_path):
    rng = np.random.default_rng(0)
    gray = np.clip(128 + 40 * np.sin(np.arange(W) / 5)[None] + rng.normal(0, 20, (H, W)), 0, 255)
    alpha = np.full((H, W), 255, np.uint8)
    alpha[10:20, 10:30] = 0  # transparent: holes with --mask-from-alpha
    src = tmp_path / "la.png"
    Image.fromarray(np.dstack([gray.astype(np.uint8), alpha]), "LA").save(src)
    code, _, err = cli(capsys, weights, src, "-o", tmp_path / "out", "--mask-from-alpha")
    assert code == 0, err
    out = tmp_path / "out" / "la.png"
    assert Image.open(out).mode == "LA"
    res = pixels(out)
    assert res.shape == (H, W, 2) and res.dtype == np.uint8
    assert (res[10:20, 10:30, 1] == 255).all()  # filled holes become opaque
    np.testing.assert_array_equal(res[alpha > 0], pixels(src)[alpha > 0])  # known pixels kept


def test_mask_from_alpha(capsys, weights, inputs, tmp_path):
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, inputs / "rgba.png", "-o", out, "--mask-from-alpha")
    assert code == 0, err
    src, res = pixels(inputs / "rgba.png"), pixels(out / "rgba.png")
    holes = src[:, :, 3] == 0
    assert holes.sum() == hole().sum()
    np.testing.assert_array_equal(res[~holes], src[~holes])  # colour and alpha of known pixels
    assert (res[holes][:, 3] == 255).all()  # filled holes are opaque
    assert (np.abs(res[holes][:, :3].astype(int) - (255, 0, 255)).sum(1) > 60).mean() > 0.9


def test_mask_color(capsys, weights, inputs, tmp_path):
    img = photo(7)
    img[HOLE] = (255, 0, 255)
    Image.fromarray(img).save(inputs / "painted.png")
    out = tmp_path / "out"
    code, _, err = cli(
        capsys, weights, inputs / "painted.png", "-o", out, "--mask-color", "255,0,255"
    )
    assert code == 0, err
    res = pixels(out / "painted.png")
    np.testing.assert_array_equal(res[~hole()], img[~hole()])
    assert (res[hole()] != (255, 0, 255)).any(1).mean() > 0.9


def test_task_denoise_ignores_masks(capsys, weights, inputs, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(hole().astype(np.uint8) * 255).save(masks / "rgb.png")
    code, _, err = cli(
        capsys,
        weights,
        inputs / "rgb.png",
        "-o",
        tmp_path / "a",
        "--masks",
        masks,
        "--task",
        "denoise",
    )
    assert code == 0, err
    code, _, err = cli(capsys, weights, inputs / "rgb.png", "-o", tmp_path / "b")
    assert code == 0, err
    with_masks, plain = pixels(tmp_path / "a" / "rgb.png"), pixels(tmp_path / "b" / "rgb.png")
    np.testing.assert_array_equal(with_masks, plain)
    src = pixels(inputs / "rgb.png")
    assert (with_masks[~hole()] != src[~hole()]).any()  # not inpainted: known pixels changed too


def test_task_inpaint_without_mask_fails_that_file(capsys, weights, inputs, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(hole().astype(np.uint8) * 255).save(masks / "rgb.png")
    out = tmp_path / "out"
    code, _, err = cli(
        capsys,
        weights,
        inputs / "rgb.png",
        inputs / "gray.png",
        "-o",
        out,
        "--masks",
        masks,
        "--task",
        "inpaint",
    )
    assert code == 1
    assert files(out) == ["rgb.png"]
    assert str(inputs / "gray.png") in err and "no hole mask" in err


# ------------------------------------------------------------------------------------------------
# Skipping, dry runs, reports, formats


def test_skip_existing(capsys, weights, inputs, tmp_path):
    out = tmp_path / "out"
    assert cli(capsys, weights, inputs, "-o", out)[0] == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    contents = digest(out)
    time.sleep(0.02)
    code, _, err = cli(
        capsys, weights, inputs, "-o", out, "--skip-existing", "--report", tmp_path / "r.json"
    )
    assert code == 0
    assert "0 restored, 6 skipped, 0 failed" in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamps
    assert digest(out) == contents
    rows = json.loads((tmp_path / "r.json").read_text())
    assert {r["status"] for r in rows} == {"skipped"} and len(rows) == 6


def test_dry_run_writes_nothing(capsys, weights, inputs, tmp_path):
    out = tmp_path / "out"
    before = files(tmp_path)
    code, stdout, err = cli(capsys, weights, inputs, "-o", out, "-r", "--dry-run")
    assert code == 0
    assert not out.exists() and files(tmp_path) == before
    assert stdout.count(" -> ") == len(TOP + NESTED)
    assert f"{inputs / 'sub' / 'nested.png'} -> {out.resolve() / 'sub' / 'nested.png'}" in stdout
    assert "(dry run)" in err


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_report(capsys, weights, inputs, tmp_path, kind):
    (inputs / "broken.webp").write_bytes(b"RIFF0000WEBPjunk")
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(photo()).save(out / "gray.png")  # already there: skipped
    report = tmp_path / "reports" / f"run.{kind}"
    code, _, _ = cli(capsys, weights, inputs, "-o", out, "--skip-existing", "--report", report)
    assert code == 1
    if kind == "csv":
        with open(report, newline="") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == REPORT_COLUMNS
            rows = list(reader)
    else:
        rows = json.loads(report.read_text())
        assert all(list(r) == REPORT_COLUMNS for r in rows)
    by_name = {Path(r["input"]).name: r for r in rows}
    assert sorted(by_name) == sorted(TOP + ["broken.webp"])
    assert by_name["gray.png"]["status"] == "skipped"
    assert (
        by_name["broken.webp"]["status"] == "failed"
        and "broken.webp" in by_name["broken.webp"]["error"]
    )
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 5 and all(r["error"] == "" for r in ok)
    assert by_name["rgb.png"]["size"] == f"{W}x{H}" and by_name["rot.jpg"]["size"] == f"{H}x{W}"
    assert by_name["rgb.png"]["output"] == str(out.resolve() / "rgb.png")
    assert float(by_name["rgb.png"]["seconds"]) > 0


@pytest.mark.parametrize(
    "fmt, ext", [("png", ".png"), ("jpg", ".jpg"), ("webp", ".webp"), ("tiff", ".tif")]
)
def test_format_and_suffix(capsys, weights, inputs, tmp_path, fmt, ext):
    names = [n for n in TOP if n != "deep.tif"]  # deep.png and deep.tif would collide
    (inputs / "deep.tif").unlink()
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, inputs, "-o", out, "--format", fmt, "--suffix", "_restored")
    assert code == 0, err
    expected = sorted(f"{Path(n).stem}_restored{ext}" for n in names)
    assert files(out) == expected
    for name in expected:
        assert pixels(out / name).shape[:2] in ((H, W), (W, H))
    deep = pixels(out / f"deep_restored{ext}")
    assert deep.dtype == (np.uint16 if fmt in ("png", "tiff") else np.uint8)
    gray = pixels(out / f"gray_restored{ext}")
    assert gray.shape == ((H, W, 3) if fmt == "webp" else (H, W))  # WebP has no gray mode
    rgba = pixels(out / f"rgba_restored{ext}")
    assert rgba.shape == (H, W, 3 if fmt == "jpg" else 4)
    assert change(pixels(out / f"rgb_restored{ext}"), pixels(inputs / "rgb.png")) > 0.3


def test_colliding_outputs_refused(capsys, weights, inputs, tmp_path):
    code, _, err = cli(capsys, weights, inputs, "-o", tmp_path / "out", "--format", "png")
    assert code == 2 and "would both be written" in err  # deep.png and deep.tif
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# Never overwrite inputs; where outputs may go


def test_refuses_to_overwrite_inputs(capsys, weights, inputs, tmp_path):
    before = digest(inputs)
    for args in (
        [inputs, "-o", inputs],
        [inputs, "-o", inputs, "-r"],
        [inputs / "rgb.png", "-o", inputs],
    ):
        code, _, err = cli(capsys, weights, *args)
        assert code == 2, args
        assert "would overwrite the input" in err
        assert digest(inputs) == before  # byte for byte, and no new files


def test_same_folder_with_suffix_is_fine(capsys, weights, inputs, tmp_path):
    before = digest(inputs)
    code, _, err = cli(
        capsys, weights, inputs / "rgb.png", inputs / "gray.png", "-o", inputs, "--suffix", "_r"
    )
    assert code == 0, err
    after = digest(inputs)
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(set(after) - set(before)) == ["gray_r.png", "rgb_r.png"]


def test_output_folder_above_inputs(capsys, weights, inputs, tmp_path):
    """``-o`` a parent of the input folder (e.g. ``-o .``) must still find the inputs."""
    code, _, err = cli(capsys, weights, inputs / "sub", "-o", tmp_path, "-r")
    assert code == 0, err
    assert "2 restored" in err
    assert (tmp_path / "nested.png").is_file() and (tmp_path / "deeper" / "leaf.jpg").is_file()


def test_output_folder_inside_inputs_is_not_read_back(capsys, weights, inputs, tmp_path):
    out = inputs / "restored"
    assert cli(capsys, weights, inputs, "-o", out, "-r")[0] == 0
    code, _, err = cli(capsys, weights, inputs, "-o", out, "-r", "--skip-existing")
    assert code == 0, err
    assert f"0 restored, {len(TOP + NESTED)} skipped" in err  # earlier outputs are not inputs
    assert files(out) == sorted(TOP + NESTED)


def test_unwritable_output_folder(capsys, weights, inputs, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("this user can write into read-only folders (root)")
        code, _, err = cli(capsys, weights, inputs / "rgb.png", "-o", out)
        assert code == 1 and "cannot write" in err and str(out) in err
    finally:
        out.chmod(0o755)


def test_output_folder_that_cannot_be_created_is_found_before_any_work(
    capsys, weights, inputs, tmp_path, monkeypatch
):
    """Works as root too: OUTDIR lies under a regular file, so no folder can be made there."""
    from restore.restorer import Restorer

    monkeypatch.setattr(Restorer, "denoise", lambda *a, **k: pytest.fail("restored anyway"))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    out = blocker / "out"
    code, _, err = cli(capsys, weights, inputs / "rgb.png", inputs / "gray.png", "-o", out)
    assert code == 1
    assert f"{out}: cannot write there" in err and len(err.strip().splitlines()) == 1


def test_noise_level_with_mask_denoises_known_pixels_too(capsys, weights, tmp_path):
    folder, masks = tmp_path / "in", tmp_path / "masks"
    folder.mkdir()
    masks.mkdir()
    image = photo(3)
    Image.fromarray(image).save(folder / "a.png")
    hole = np.zeros((H, W), np.uint8)
    hole[10:30, 20:50] = 255
    Image.fromarray(hole).save(masks / "a.png")
    for name, extra in (("inpaint", []), ("both", ["--noise-level", "25"])):
        code, _, err = cli(capsys, weights, folder, "-o", tmp_path / name, "--masks", masks, *extra)
        assert code == 0, err
    known = hole == 0
    inpainted = np.asarray(Image.open(tmp_path / "inpaint" / "a.png"))
    both = np.asarray(Image.open(tmp_path / "both" / "a.png"))
    assert np.array_equal(inpainted[known], image[known])  # inpaint keeps known pixels
    assert not np.array_equal(both[known], image[known])  # with a noise level they are denoised


# ------------------------------------------------------------------------------------------------
# Interruptions


def test_interrupted_run_leaves_no_partial_files(capsys, weights, inputs, tmp_path, monkeypatch):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(3):
        Image.fromarray(photo(10 + i)).save(src / f"p{i}.png")
    before = digest(src)
    real_save = imagefile._save_pil
    calls = []

    def save(tmp, *args, **kwargs):
        calls.append(tmp)
        if len(calls) == 2:
            Path(tmp).write_bytes(b"\x89PNG half written")  # a partial temporary file exists
            raise KeyboardInterrupt
        real_save(tmp, *args, **kwargs)

    monkeypatch.setattr(imagefile, "_save_pil", save)
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, src, "-o", out)
    assert code == 130
    assert "interrupted" in err and "--skip-existing" in err
    assert ".part" in str(calls[1])  # it was writing to a temporary file ...
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]  # ... which is gone
    assert files(out) == ["p0.png"]
    assert pixels(out / "p0.png").shape == (H, W, 3)  # complete and loadable
    assert digest(src) == before

    monkeypatch.setattr(imagefile, "_save_pil", real_save)
    first = (out / "p0.png").stat().st_mtime_ns
    code, _, err = cli(capsys, weights, src, "-o", out, "--skip-existing")
    assert code == 0, err
    assert "2 restored, 1 skipped, 0 failed" in err
    assert files(out) == ["p0.png", "p1.png", "p2.png"]
    assert (out / "p0.png").stat().st_mtime_ns == first


def test_interrupt_during_restoration(capsys, weights, inputs, tmp_path, monkeypatch):
    interrupt_denoise_after(monkeypatch, 2)
    report = tmp_path / "r.csv"
    code, _, _ = cli(capsys, weights, inputs, "-o", tmp_path / "out", "--report", report)
    assert code == 130
    assert files(tmp_path / "out") == ["deep.png"]
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]
    rows = read_csv(report)
    assert [r["status"] for r in rows] == ["ok"]


# ------------------------------------------------------------------------------------------------
# Usage errors and start-up


@pytest.mark.parametrize(
    "args, words",
    [
        (["--mask-color", "300,0,0"], "--mask-color"),
        (["--mask-color", "red"], "--mask-color"),
        (["--tile", "100"], "--tile"),
        (["--report", "r.txt"], "--report"),
        (["--noise-level", "abc"], "noise-level"),
        (["--noise-level", "300"], "noise-level"),
        (["--masks", "/nonexistent/masks"], "no such folder"),
        (["--format", "gif"], "invalid choice"),
        (["--model", "gaussian"], "not allowed with argument"),
        (["--model", "nope"], "invalid choice"),
    ],
)
def test_usage_errors(capsys, weights, inputs, tmp_path, args, words):
    code, _, err = cli(capsys, weights, inputs, "-o", tmp_path / "out", *args)
    assert code == 2 and words in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [None, b"junk"], ids=["missing", "corrupt"])
def test_bad_weights_are_one_line_naming_them(capsys, inputs, tmp_path, content):
    path = tmp_path / "model.pt"
    if content is not None:
        path.write_bytes(content)
    code, _, err = cli(capsys, path, inputs / "rgb.png", "-o", tmp_path / "out")
    said = [line for line in err.splitlines() if "cannot load" in line]
    assert code == 1 and len(said) == 1, err
    assert said[0].startswith(f"restore-image: error: cannot load the model: {path}: ")
    assert err.splitlines()[1].startswith("restore-image: 0 restored")  # the next line: the tally
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option,setting",
    [("--uncertainty", "model.net.uncertainty=true"), ("--auto-mask", "model.net.damage=true")],
)
def test_an_option_needing_a_head_the_model_lacks_names_the_weights_and_the_remedy(
    capsys, weights, inputs, tmp_path, option, setting
):
    code, _, err = cli(capsys, weights, inputs / "rgb.png", "-o", tmp_path / "out", option)
    (line,) = [line for line in err.splitlines() if "error" in line]
    assert code == 1 and f"{weights} has no " in line and f"which {option} needs" in line
    assert f"restore-train {setting}" in line and "restore-train experiment=finetune" in line
    assert not (tmp_path / "out").exists()


def test_noise_level(capsys, weights, inputs, tmp_path):
    assert cli(capsys, weights, inputs / "rgb.png", "-o", tmp_path / "a")[0] == 0
    assert (
        cli(capsys, weights, inputs / "rgb.png", "-o", tmp_path / "b", "--noise-level", "25")[0]
        == 0
    )
    assert not np.array_equal(
        pixels(tmp_path / "a" / "rgb.png"), pixels(tmp_path / "b" / "rgb.png")
    )


def test_self_ensemble_matches_the_api(capsys, weights, inputs, tmp_path):
    from restore.restorer import Restorer

    assert cli(capsys, weights, inputs / "rgb.png", "-o", tmp_path, "--self-ensemble")[0] == 0
    expected = Restorer.from_checkpoint(weights, self_ensemble=True).denoise(inputs / "rgb.png")
    assert np.array_equal(pixels(tmp_path / "rgb.png"), expected)


def test_help_says_the_mask_rule_and_does_not_import_torch():
    from restore.io.mask_rule import MASK_RULE

    script = Path(sys.executable).with_name("restore-image")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "restore.cli"]
    result = subprocess.run([*cmd, "--help"], env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "usage: restore-image" in result.stdout and "--mask-from-alpha" in result.stdout
    assert MASK_RULE in " ".join(result.stdout.split())  # argparse wraps the epilog
    assert "nonzero" not in result.stdout and "stains" not in result.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import restore.cli, sys; "
            "restore.cli.build_parser().parse_args(['x', '-o', 'y']); "
            "print(sorted(m for m in ('torch', 'numpy', 'cv2', 'PIL') if m in sys.modules))",
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_cmyk_and_float_tiff_inputs_give_files_every_reader_opens(tmp_path, capsys, weights):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(src / "cmyk.tif")
    hdr = (rng.random((40, 48, 3), dtype=np.float32) * 4 - 1).astype(np.float32)  # -1 .. 3
    assert cv2.imwrite(str(src / "hdr.tif"), np.ascontiguousarray(hdr[:, :, ::-1]))
    out = tmp_path / "out"
    code, _, err = cli(capsys, weights, src, "-o", out)
    assert code == 0, err
    with Image.open(out / "cmyk.tif") as back:
        assert back.mode == "RGB"
    restored = read_image_file(out / "hdr.tif").pixels
    assert restored.dtype == np.float32 and restored.shape == hdr.shape
    # Restored on its own scale: the range survives (not clipped to [0, 1]).
    assert restored.min() < -0.3 and restored.max() > 2.3


def test_a_mask_without_a_hole_pixel_warns_in_one_line_and_in_the_report(
    capsys, weights, inputs, tmp_path
):
    """Grey 100 is below the rule's half range: no hole; the file is denoised, not failed."""
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.full((H, W), 100, np.uint8)).save(masks / "rgb.png")
    report = tmp_path / "run.csv"
    code, _, err = cli(
        capsys, weights, inputs / "rgb.png", "-o", tmp_path / "out", "--masks", masks,
        "--report", report,
    )  # fmt: skip
    assert code == 0, err
    (line,) = [line for line in err.splitlines() if "warning" in line]
    assert line.startswith("restore-image: warning: ") and str(masks / "rgb.png") in line
    assert "no hole pixel" in line and "above 127" in line
    (row,) = list(csv.DictReader(open(report, newline="")))
    assert row["status"] == "ok" and "no hole pixel" in row["warning"] and row["filled"] == ""


def test_the_report_gives_a_noise_level_only_where_the_file_was_denoised_blind(
    capsys, inputs, tmp_path
):
    import torch

    from restore.models import RestorationVAE
    from restore.models.weights import export_weights

    torch.manual_seed(0)
    net = RestorationVAE(widths=[16, 24, 32], blocks=[1, 1, 1], latent_channels=4,
                         noise_estimator=True)  # fmt: skip
    weights = export_weights(net, tmp_path / "estimator.pt")
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(hole().astype(np.uint8) * 255).save(masks / "rgb.png")
    rows = {}
    for task in ("denoise", "inpaint", "restore"):
        report = tmp_path / f"{task}.csv"
        code, _, err = cli(
            capsys, weights, inputs / "rgb.png", "-o", tmp_path / task, "--masks", masks,
            "--task", task, "--report", report,
        )  # fmt: skip
        assert code == 0, err
        (rows[task],) = list(csv.DictReader(open(report, newline="")))
    assert rows["inpaint"]["noise_level"] == ""  # the known pixels were kept as they are
    assert float(rows["denoise"]["noise_level"]) > 0
    assert float(rows["restore"]["noise_level"]) > 0

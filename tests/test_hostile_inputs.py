"""Hostile and broken inputs (issue #22): bombs refused before decoding, one file's failure
stays its own, values checked, weights files checked before anything is built, nothing written
outside the output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import helpers
import numpy as np
import pytest
import torch
from PIL import Image

import restore.io.images as imagefile
from restore.cli import main
from restore.io.atomic import atomic_path, remove_stale_parts
from restore.io.images import read_image_file
from restore.models import RestorationVAE
from restore.models.weights import export_weights, load_net

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
H, W = 48, 64


def photo(seed: int = 0) -> np.ndarray:
    """:func:`helpers.photo` at this module's size."""
    return helpers.photo(seed, H, W)


def cli(capsys, weights: Path, *args) -> tuple[int, str]:
    argv = [str(a) for a in args] + ["--weights", str(weights), "--device", "cpu"]
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ------------------------------------------------------------------------------------------------
# 1. Decompression bombs


def test_bomb_images_and_masks_are_refused_from_their_header(
    capsys, weights, tmp_path, monkeypatch
):
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    Image.new("1", (30000, 30000)).save(src / "bomb.png")  # 100 KB claiming 900 MP
    Image.fromarray(photo()).save(src / "good.png")
    Image.fromarray(photo(1)).save(src / "masked.png")
    Image.new("1", (3000, 3000)).save(masks / "masked.png")  # a mask bomb for that photo
    decoded = []
    real = imagefile.cv2.imread

    def imread(path, *args):
        decoded.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(imagefile.cv2, "imread", imread)
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out", "--masks", masks,
                    "--max-pixels", "1e6")  # fmt: skip
    assert code == 1
    assert "bomb.png: 30000x30000 = 900 megapixels is above the limit of 1" in err
    assert "masked.png: 3000x3000 = 9 megapixels" in err
    assert "bomb.png" not in decoded and decoded.count("masked.png") == 1  # the photo, not its mask
    assert tree(tmp_path / "out") == {"good.png"}


def test_restorer_refuses_bomb_files(tmp_path, weights):
    from restore import Restorer

    Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")
    with pytest.raises(ValueError, match="900 megapixels"):
        Restorer.from_checkpoint(weights, device="cpu").denoise(tmp_path / "bomb.png")


# ------------------------------------------------------------------------------------------------
# 2. One file's failure is its own


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB"),
        MemoryError(),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        ZeroDivisionError("a bug in a codec"),
    ],
)
def test_any_error_on_one_file_fails_that_file_alone(capsys, weights, tmp_path, monkeypatch, error):
    from restore.restorer import Restorer

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(photo(ord(name[0]))).save(src / name)
    real = Restorer.denoise
    calls = []

    def denoise(self, image, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise error
        return real(self, image, *args, **kwargs)

    monkeypatch.setattr(Restorer, "denoise", denoise)
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out")
    assert code == 1 and tree(tmp_path / "out") == {"a.png", "c.png"}
    line = [x for x in err.splitlines() if x.startswith("restore-image: ") and "b.png" in x]
    assert len(line) == 1
    memory = not isinstance(error, ZeroDivisionError)
    assert ("out of memory (try a smaller --tile" in line[0]) == memory
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_real_memory_limit_fails_the_large_file_and_the_small_one_is_restored(weights, tmp_path):
    pytest.importorskip("resource")
    src = tmp_path / "in"
    src.mkdir()
    big = np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    Image.fromarray(big).save(src / "a_big.png", compress_level=1)
    Image.fromarray(photo()).save(src / "b_small.png")
    script = (
        "import resource, sys, torch, numpy, restore.cli, restore.restorer, restore.io.images\n"
        "from restore.models.weights import load_net\n"
        f"load_net({str(weights)!r})\n"
        "used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + 400 * 2**20, resource.RLIM_INFINITY))\n"
        "sys.exit(restore.cli.main(sys.argv[1:]))\n"
    )
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs /proc to size the limit")
    args = [str(src), "-o", str(tmp_path / "out"), "--weights", str(weights), "--device", "cpu"]
    done = subprocess.run(
        [sys.executable, "-c", script, *args], env=ENV, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "a_big.png" in done.stderr and "memory" in done.stderr.lower()
    assert "Traceback" not in done.stderr
    assert tree(tmp_path / "out") == {"b_small.png"}


# ------------------------------------------------------------------------------------------------
# 3-4. Trailing data, corrupt data


def test_motion_photos_restore_and_a_corrupt_jpeg_fails_named(capsys, weights, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo()).save(src / "clean.jpg", quality=95)
    data = (src / "clean.jpg").read_bytes()
    (src / "motion.jpg").write_bytes(data + b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    broken = bytearray(data)
    middle = len(broken) // 2
    broken[middle : middle + 300] = (
        np.random.default_rng(0).integers(0, 255, 300, np.uint8).tobytes()
    )
    (src / "corrupt.jpg").write_bytes(bytes(broken))
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out")
    assert code == 1 and tree(tmp_path / "out") == {"clean.jpg", "motion.jpg"}
    assert "corrupt.jpg: corrupt image data (Corrupt JPEG data" in err
    assert not [x for x in err.splitlines() if x.startswith("Corrupt JPEG")]  # libjpeg's own line


# ------------------------------------------------------------------------------------------------
# 6. A mask over the whole image


def test_a_mask_over_the_whole_image_fails_that_file(capsys, weights, tmp_path):
    src, masks = tmp_path / "in", tmp_path / "masks"
    src.mkdir()
    masks.mkdir()
    Image.fromarray(photo()).save(src / "a.png")
    Image.fromarray(np.full((H, W), 255, np.uint8)).save(masks / "a.png")
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out", "--masks", masks)
    assert code == 1 and "a.png: the mask covers the whole image" in err
    assert not (tmp_path / "out" / "a.png").exists()


# ------------------------------------------------------------------------------------------------
# 7. Weights files


class Payload:
    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_a_weights_file_with_objects_is_refused_in_one_line(tmp_path):
    torch.save({"format": "restore-vae", "evil": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError) as info:
        load_net(tmp_path / "evil.pt")
    message = str(info.value)
    assert "\n" not in message and "evil.pt" in message and "weights_only" not in message


def _export(tmp_path: Path, **changes) -> Path:
    net = RestorationVAE(widths=[16, 24, 32], blocks=[1, 1, 1], latent_channels=4)
    path = export_weights(net, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"].update(changes)
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(widths=[16, 24, 48]), "(48, 48, 3, 3) for its config"),  # one line, the first key
        (dict(widths=[16 * 40, 24 * 40, 32 * 40]), "widths"),  # beyond the bounds
        (dict(widths=[1000, 1000, 1000], blocks=[30, 30, 30]), "too large"),
        (dict(latent_channels=-4), "latent_channels"),
        (dict(hole_fill="rm -rf"), "hole_fill"),
        (dict(surprise=1), "unknown setting"),
        (dict(uncertainty_scale=float("nan")), "uncertainty_scale"),
    ],
)
def test_weights_configs_are_checked_before_anything_is_built(tmp_path, changes, words):
    path = _export(tmp_path, **changes)
    with pytest.raises(ValueError) as info:
        load_net(path)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message


# ------------------------------------------------------------------------------------------------
# 8. Output paths, signals, options


@pytest.mark.parametrize(
    "args, words",
    [
        (["--suffix", "/../../x"], "--suffix"),
        (["--suffix", "a\\b"], "--suffix"),
        (["--quality", "-5"], "--quality"),
        (["--quality", "1000"], "--quality"),
        (["--max-pixels", "-1"], "--max-pixels"),
        (["--max-pixels", "nan"], "--max-pixels"),
    ],
)
def test_bad_options_are_usage_errors_and_nothing_is_written(
    capsys, weights, tmp_path, args, words
):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo()).save(src / "a.png")
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out", *args)
    assert code == 2 and words in err
    assert tree(tmp_path) == {"in", "in/a.png"}


def test_long_names_work_and_parts_of_a_killed_run_are_removed(capsys, weights, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    long = "x" * 240 + ".png"  # 244 bytes: a 15-byte longer temporary name would not fit
    Image.fromarray(photo()).save(src / long)
    with atomic_path(out / "killed.png") as tmp:  # what a run killed in mid-write leaves
        tmp.write_bytes(b"half")
        dead = tmp.with_name(tmp.name.replace(f"-{os.getpid()}-", "-999999999-"))
        tmp.rename(dead)
        tmp.write_bytes(b"")  # atomic_path renames something into place
    (out / "killed.png").unlink()
    mine = out / f".restore-{dead.name.split('-')[1]}-{os.getpid()}-live.part.png"
    mine.write_bytes(b"a live process's part")  # this process is alive: kept
    code, err = cli(capsys, weights, src, "-o", out)
    assert code == 0, err
    assert tree(out) == {long, mine.name}
    assert remove_stale_parts(out) == []


def test_unwritable_report_is_found_before_the_work(capsys, weights, tmp_path, monkeypatch):
    from restore.restorer import Restorer

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo()).save(src / "a.png")
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setattr(Restorer, "denoise", lambda *a, **k: pytest.fail("restored anyway"))
    report = tmp_path / "file" / "report.csv"
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out", "--report", report)
    assert code == 1 and "cannot write there" in err and "Traceback" not in err


def test_control_characters_in_names_cannot_add_lines(capsys, weights, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "evil\nrestore-image: 9 restored.png").write_bytes(b"not an image")
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out")
    assert code == 1
    assert "evil\\nrestore-image: 9 restored.png" in err
    assert not [x for x in err.splitlines() if x.startswith("restore-image: 9 restored")]


def test_symlinked_subfolders_are_followed_once(capsys, weights, tmp_path):
    src, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    src.mkdir()
    elsewhere.mkdir()
    Image.fromarray(photo()).save(elsewhere / "linked.png")
    (src / "link").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(src, target_is_directory=True)  # a loop back up
    Image.fromarray(photo(1)).save(src / "top.png")
    code, err = cli(capsys, weights, src, "-o", tmp_path / "out", "--recursive")
    assert code == 0, err
    assert tree(tmp_path / "out") == {"top.png", "link", "link/linked.png"}


def test_ctrl_c_while_starting_exits_130_without_a_traceback(capsys, monkeypatch):
    import restore.cli

    def starting(*args):
        raise KeyboardInterrupt  # as if pressed while torch was being imported

    monkeypatch.setattr(restore.cli, "main", starting)
    with pytest.raises(SystemExit) as exit_:
        restore.cli.main_exit()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "restore-image: interrupted\n"


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_with_exit_143(weights, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(40):
        Image.fromarray(photo(i)).save(src / f"p{i:02d}.png")
    command = [sys.executable, "-m", "restore.cli", str(src), "-o", str(out)]
    process = subprocess.Popen(
        [*command, "--weights", str(weights), "--device", "cpu"],
        env=ENV,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (out.is_dir() and any(out.glob("p*.png"))) and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    if process.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert process.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*") if ".part" in p.name]
    for path in out.glob("*.png"):  # every output written is complete
        assert read_image_file(path).pixels.shape == (H, W, 3)


# ------------------------------------------------------------------------------------------------
# All of it in one folder


def test_a_folder_of_everything_restores_every_good_photo_and_names_every_bad_one(
    capsys, weights, tmp_path
):
    src, out = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    good = ["good.png", "sub/good.jpg", "motion.jpg"]
    Image.fromarray(photo(0)).save(src / "good.png")
    Image.fromarray(photo(1)).save(src / "sub" / "good.jpg", quality=95)
    data = (src / "sub" / "good.jpg").read_bytes()
    (src / "motion.jpg").write_bytes(data + b"\x00\x00\x00\x18ftypmp42" + bytes(999))
    Image.new("1", (30000, 30000)).save(src / "bomb.png")
    (src / "empty.png").write_bytes(b"")
    (src / "text.png").write_text("hello")
    (src / "cut.jpg").write_bytes(data[: len(data) // 2])
    broken = bytearray(data)
    broken[len(broken) // 2 : len(broken) // 2 + 300] = bytes(range(1, 255)) + bytes(46)
    (src / "corrupt.jpg").write_bytes(bytes(broken))
    (src / "name\nwith newline.png").write_bytes(b"")
    bad = ["bomb.png", "empty.png", "text.png", "cut.jpg", "corrupt.jpg", "name\\nwith newline.png"]
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*")}
    code, err = cli(capsys, weights, src, "-o", out, "--recursive", "--suffix", "_r")
    assert code == 1
    assert tree(out) == {"sub", *[g.replace(".", "_r.") for g in good]}
    failed = [x for x in err.splitlines() if x.startswith("  failed: ")]
    assert len(failed) == len(bad)
    for name in bad:
        assert sum(name in x for x in failed) == 1, name
    assert {p: p.stat().st_mtime_ns for p in src.rglob("*")} == before
    outside = set(tree(tmp_path)) - {"in", "out"}
    assert all(p.startswith(("in/", "out/")) for p in outside)

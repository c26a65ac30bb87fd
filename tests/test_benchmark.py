"""restore-bench on tiny synthetic images and pairs with a tiny random model (OpenCV peers only)."""

from __future__ import annotations

import ast
import csv
import importlib.util
import math
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from helpers import interrupt_denoise_after

from restore.bench import cli, peers, protocol, quality, reports, runner
from restore.data import synthetic_image


@pytest.fixture(scope="module")
def bench():
    """The benchmark's public names in one namespace."""
    names = {}
    for module in (protocol, peers, runner, reports, quality, cli):
        names.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return SimpleNamespace(**names)


@pytest.fixture
def image_dir(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):  # one more than --max-images
        rgb = (synthetic_image(i, (64, 96), seed=3) * 255 + 0.5).astype(np.uint8)
        cv2.imwrite(str(folder / f"img{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def test_cli_end_to_end(bench, image_dir, weights, tmp_path, one_thread):
    out = tmp_path / "out"
    peers = ["opencv-nlm", "opencv-telea", "opencv-ns", "push-pull", "harmonic"]
    rc = bench.main(
        [
            "--images",
            str(image_dir),
            "--weights",
            str(weights),
            "--out",
            str(out),
            "--max-images",
            "2",
            "--sigmas",
            "15",
            "25",
            "--presets",
            "thin",
            "medium",
            "--tasks",
            "denoise",
            "inpaint",
            "--peers",
            *peers,
            "--crop",
            "64",
            "--quiet",
        ]
    )
    assert rc == 0

    columns, rows = _read_csv(out / "results.csv")
    assert columns == bench.SUMMARY_COLUMNS
    denoise = {
        ("denoise", p, s, m)
        for p in ("float", "uint8")
        for s in ("15", "25")
        for m in ("input", "opencv-nlm", "restore", "restore-blind")
    }
    inpaint = {
        ("inpaint", "holes=0", s, m)
        for s in ("thin", "medium")
        for m in ("masked", "opencv-telea", "opencv-ns", "push-pull", "harmonic", "restore")
    }
    keys = [(r["task"], r["protocol"], r["setting"], r["method"]) for r in rows]
    assert len(keys) == len(set(keys)) and set(keys) == denoise | inpaint
    by = dict(zip(keys, rows, strict=False))

    for key, r in by.items():
        assert r["images"] == "2"
        assert math.isfinite(float(r["psnr_db"])) and 3 < float(r["psnr_db"]) < 80, (key, r)
        assert -1 < float(r["ssim"]) <= 1
        if key[0] == "inpaint":
            assert math.isfinite(float(r["hole_psnr_db"]))
            assert float(r["hole_psnr_db"]) <= float(r["psnr_db"]) + 1e-6  # known pixels are exact
        if key[3] in ("input", "masked"):
            assert r["seconds_per_mp"] == ""
        else:
            assert float(r["seconds_per_mp"]) > 0
            assert r["first_call_extra_mib"] != ""

    # Unclipped Gaussian noise at sigma 25: 20 log10(255 / 25) = 20.17 dB; clipping only helps.
    noisy_float = float(by[("denoise", "float", "25", "input")]["psnr_db"])
    noisy_uint8 = float(by[("denoise", "uint8", "25", "input")]["psnr_db"])
    assert noisy_float == pytest.approx(20.17, abs=0.3)
    assert noisy_float - 0.1 < noisy_uint8 < 24
    assert float(by[("denoise", "float", "15", "input")]["psnr_db"]) == pytest.approx(
        24.61, abs=0.3
    )
    # OpenCV's 8-bit NLM gets the same rounded input in both protocols, and it denoises.
    assert (
        by[("denoise", "float", "25", "opencv-nlm")]["psnr_db"]
        == by[("denoise", "uint8", "25", "opencv-nlm")]["psnr_db"]
    )
    assert float(by[("denoise", "uint8", "25", "opencv-nlm")]["psnr_db"]) > noisy_uint8 + 1
    for preset in ("thin", "medium"):
        masked = float(by[("inpaint", "holes=0", preset, "masked")]["psnr_db"])
        for method in ("opencv-telea", "push-pull", "harmonic"):
            assert float(by[("inpaint", "holes=0", preset, method)]["psnr_db"]) > masked + 3
        hole = {
            m: float(by[("inpaint", "holes=0", preset, m)]["hole_psnr_db"])
            for m in ("push-pull", "harmonic")
        }
        assert hole["harmonic"] > hole["push-pull"] + 0.5, hole  # the membrane fill is closer

    _, per_image = _read_csv(out / "per_image.csv")
    assert len(per_image) == 2 * len(rows)
    assert {r["image"] for r in per_image} == {"img0.png", "img1.png"}

    # One row recomputed independently: the protocol's noise for image 1 at sigma 25 (uint8),
    # restored blind by a Restorer of our own, scored by scikit-image's PSNR.
    skimage_metrics = pytest.importorskip("skimage.metrics")
    from restore import Restorer

    clean = cv2.cvtColor(cv2.imread(str(image_dir / "img1.png")), cv2.COLOR_BGR2RGB)
    field = np.random.default_rng(0 + 1).standard_normal(clean.shape)
    noisy = np.round(np.clip(clean / 255.0 + 25 / 255.0 * field, 0, 1) * 255).astype(np.uint8)
    ours = Restorer.from_checkpoint(weights, device="cpu").denoise(noisy)
    expected = skimage_metrics.peak_signal_noise_ratio(clean, ours, data_range=255)
    row = next(
        r
        for r in per_image
        if (r["task"], r["protocol"], r["setting"], r["method"], r["image"])
        == ("denoise", "uint8", "25", "restore-blind", "img1.png")
    )
    assert float(row["psnr_db"]) == pytest.approx(expected, abs=0.02)

    md = (out / "results.md").read_text()
    for label in (
        "noisy input",
        "OpenCV fastNlMeans",
        "OpenCV inpaint Telea",
        "OpenCV inpaint NS",
        "restore (sigma given)",
        "restore (blind)",
        "masked input",
    ):
        assert label in md
    assert str(image_dir) in md and str(weights) in md and "2 images" in md
    assert "kornia.metrics.ssim" in md and "Skipped peers" not in md

    # noisy | restore | clean (no BM3D here) and masked | Telea | restore | clean: 64-px crops under
    # a 20-px label strip, 4-px gaps
    for name, panels in (("crops_denoise_s25.png", 3), ("crops_inpaint_medium.png", 4)):
        crop = cv2.imread(str(out / name))
        assert crop is not None and crop.shape == (64 + 20, panels * 64 + (panels - 1) * 4, 3)
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "denoise_psnr.png").is_file() and (out / "inpaint_psnr.png").is_file()
    else:
        assert "Plots skipped" in md


def test_gray_image_and_missing_peer(bench, weights, tmp_path, monkeypatch, one_thread):
    from restore import Restorer

    real = runner.peer_problem
    monkeypatch.setattr(
        runner,
        "peer_problem",
        lambda name: "`bm3d` is not installed" if name == "bm3d" else real(name),
    )
    gray = (synthetic_image(5, (48, 64), channels=1) * 255 + 0.5).astype(np.uint8)
    samples = [bench.Sample("gray.png", gray)]
    res = bench.run_benchmark(
        samples,
        Restorer.from_checkpoint(weights, device="cpu"),
        sigmas=[25],
        presets=["thin"],
        peers=["bm3d", "opencv-nlm", "opencv-ns", "restore-x8"],
        seed=1,
        opencv_h=0.9,
    )
    assert res.skipped.keys() == {"bm3d"} and res.opencv_h == {25.0: 22.5}
    methods = {(r["task"], r["method"]) for r in res.records}
    assert methods == {
        ("denoise", m) for m in ("input", "opencv-nlm", "restore", "restore-blind", "restore-x8")
    } | {("inpaint", m) for m in ("masked", "opencv-ns", "restore", "restore-x8")}
    assert all(math.isfinite(r["psnr"]) for r in res.records)

    files = bench.write_outputs(res, tmp_path / "gray", crop=32)
    md = (tmp_path / "gray" / "results.md").read_text()
    assert "Skipped peers" in md and "`bm3d` is not installed" in md
    assert {f.name for f in files} >= {
        "results.md",
        "results.csv",
        "crops_denoise_s25.png",
        "crops_inpaint_thin.png",
    }

    # Same seed and index: same noise and mask; the mask has holes.
    a, _ = bench.noisy_pair(samples[0], 0, 25, seed=1)
    b, _ = bench.noisy_pair(samples[0], 0, 25, seed=1)
    assert np.array_equal(a, b)
    mask = bench.hole_mask(samples[0], 0, "thin", seed=1)
    assert mask.shape == gray.shape[:2] and mask.any()
    assert np.array_equal(mask, bench.hole_mask(samples[0], 0, "thin", seed=1))


def write_real_sets(root: Path) -> None:
    """Tiny pair sets named and laid out as ../shared/data/real, with correlated noise: two pairs
    of CC15 and Nam25, and RENOIR triplets (two identical clean shots) of which the four
    validation ones are scored."""
    import torch

    from restore.corruption import correlated_noise

    for folder, noisy_suffix, clean_suffixes, names in (
        ("CC15", "_real", ["_mean"], ["p0", "p1"]),
        ("Nam25", "_noise", ["_gt"], ["p0", "p1"]),
        ("RENOIR_T3i", "_noisy", ["_clean", "_reference"], ["01", "03", "04", "11", "15"]),
    ):
        (root / "real" / folder).mkdir(parents=True)
        for i, name in enumerate(names):
            rgb = (synthetic_image(10 + i, (64, 80), seed=4) * 255 + 0.5).astype(np.uint8)
            x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
            noisy = correlated_noise(x, 8.0, 0.0, 0.5, generator=torch.Generator().manual_seed(i))
            noisy = (noisy[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            shots = [(rgb, suffix) for suffix in clean_suffixes] + [(noisy, noisy_suffix)]
            for image, suffix in shots:
                cv2.imwrite(
                    str(root / "real" / folder / f"{name}{suffix}.png"),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                )


def test_real_noise_rows(bench, weights, tmp_path, one_thread):
    write_real_sets(tmp_path / "data")
    out = tmp_path / "out"
    rc = bench.main(
        [
            "--tasks",
            "real",
            "--real-dir",
            str(tmp_path / "data"),
            "--weights",
            str(weights),
            "--out",
            str(out),
            "--peers",
            "opencv-nlm",
            "--quiet",
        ]
    )
    assert rc == 0
    _, rows = _read_csv(out / "results.csv")
    by = {(r["setting"], r["method"]): r for r in rows}
    assert {r["task"] for r in rows} == {"real"}
    assert set(by) == {
        (s, m)
        for s in ("CC15", "Nam25", "RENOIR-val")
        for m in ("input", "opencv-nlm", "restore-told", "restore-blind")
    }
    for setting in ("CC15", "Nam25", "RENOIR-val"):
        noisy = float(by[(setting, "input")]["psnr_db"])
        assert noisy == pytest.approx(20 * math.log10(255 / 8.0), abs=0.6)  # RMS 8 noise
        assert float(by[(setting, "opencv-nlm")]["psnr_db"]) > noisy + 1.0
        assert by[(setting, "input")]["images"] == ("4" if setting == "RENOIR-val" else "2")
    md = (out / "results.md").read_text()
    assert "## Real camera noise" in md and "restore (told the true sigma)" in md
    assert "CC15 h=" in md and "## Denoising" not in md

    pairs = bench.load_real_pairs(tmp_path / "data", bench.REAL_SETS["CC15"], 1)
    assert [p.name for p in pairs] == ["p0"]
    assert pairs[0].sigma == pytest.approx(8.0, rel=0.1)
    renoir = bench.load_real_pairs(tmp_path / "data", bench.REAL_SETS["RENOIR-val"])
    assert [p.name for p in renoir] == ["03", "04", "11", "15"]  # the held-out four, not 01
    assert (
        bench.main(
            [
                "--tasks",
                "real",
                "--real-dir",
                str(tmp_path / "nowhere"),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 2
    )


def test_cli_errors(bench, image_dir, tmp_path, capsys):
    assert bench.main(["--images", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert (
        bench.main(
            [
                "--images",
                str(image_dir),
                "--weights",
                str(tmp_path / "none.pt"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "cannot load weights" in capsys.readouterr().err


def test_speed_run_reports_megapixels_per_second_and_memory(weights, capsys, one_thread):
    assert (
        cli.main(
            [
                "speed",
                "--megapixels",
                "0.05",
                "--weights",
                str(weights),
                "--device",
                "cpu",
                "--precision",
                "fp32",
                "--tile",
                "512",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "MP/s" in out and "MiB" in out and "denoise" in out
    # the classical peer timed on the same photo, in the same run
    assert "OpenCV fastNlMeans, same photo:" in out and "x its time" in out


def test_speed_times_the_inpainting_peers_and_refuses_a_peer_of_another_task(weights, capsys):
    argv = ["speed", "--megapixels", "0.05", "--weights", str(weights), "--device", "cpu"]
    assert (
        cli.main([*argv, "--task", "inpaint", "--peers", "opencv-ns", "--precision", "fp32"]) == 0
    )
    out = capsys.readouterr().out
    assert "inpaint" in out and "OpenCV inpaint NS (r=5), same photo:" in out
    assert "Telea" not in out
    with pytest.raises(SystemExit):
        cli.main([*argv, "--task", "inpaint", "--peers", "opencv-nlm"])
    assert "not a method for --task inpaint" in capsys.readouterr().err


def test_a_stopped_run_keeps_the_rows_it_finished(bench, image_dir, weights, tmp_path, monkeypatch):
    interrupt_denoise_after(monkeypatch, 4)
    out = tmp_path / "out"
    argv = ["--images", str(image_dir), "--weights", str(weights), "--out", str(out)]
    argv += ["--sigmas", "25", "--tasks", "denoise", "--peers", "--quiet", "--max-images", "2"]
    assert bench.main(argv) == 130
    _, rows = _read_csv(out / "per_image.csv")
    done = {(r["protocol"], r["method"], r["image"]) for r in rows}
    assert ("float", "restore", "img0.png") in done and len(rows) >= 2
    assert ("uint8", "restore-blind", "img1.png") not in done  # never reached
    assert (out / "results.md").is_file() and (out / "results.csv").is_file()


def test_memory_says_when_it_is_only_a_bound(monkeypatch):
    from restore.bench import memory

    assert memory.Memory(12.4, False).text() == "12"
    assert memory.Memory(12.4, True).text() == "<= 12"
    assert memory.Memory(12.4, False, lower_bound=True).text() == ">= 12"
    assert memory.Memory(None, False).text() == "n/a"
    peaks = iter([100.0, 130.0])  # the lifetime peak before and after the call
    monkeypatch.setattr(memory, "_current_rss_mib", lambda: None)
    monkeypatch.setattr(memory, "_maxrss_mib", lambda: next(peaks))
    assert memory.measure_memory(lambda: None).text() == ">= 30"


def test_bench_modules_share_only_public_names_and_import_no_circle():
    """No bench module imports another's private name, nor one that imports it back (lazily or
    through :data:`restore.bench.cli.SUBCOMMANDS` included)."""
    folder = Path(reports.__file__).parent
    edges, private = {}, []
    for path in folder.glob("*.py"):
        edges[path.stem] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            if module.startswith("restore.bench."):
                edges[path.stem].add(module.split(".")[2])
                private += [f"{path.stem}: {a.name}" for a in node.names if a.name.startswith("_")]
            elif isinstance(node, ast.Constant) and str(node.value).startswith("restore.bench."):
                edges[path.stem].add(node.value.split(".")[2])
    assert not private, private

    def reaches(start: str, goal: str, seen: frozenset) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in edges.get(start, ())
        )

    assert not [m for m in edges if reaches(m, m, frozenset({m}))]


@pytest.mark.parametrize("subcommand", [None, *cli.SUBCOMMANDS])
def test_every_subcommand_prints_its_help(subcommand, capsys):
    argv = [] if subcommand is None else [subcommand]
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    assert done.value.code == 0
    assert "usage: restore-bench" in capsys.readouterr().out

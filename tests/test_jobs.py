"""restore.jobs: the one job path of every front end (restore-image, the Lightning predict loop, Ray
Data): options checked once, tasks chosen once, float range and alpha handled once."""

from __future__ import annotations

from pathlib import Path

import cv2
import helpers
import lightning as L
import numpy as np
import pytest
from PIL import Image

from restore.cli import main
from restore.io.images import read_image_file
from restore.jobs import Job, JobOptions, restore_file, restore_pixels, write_result
from restore.restorer import Restorer

pytestmark = pytest.mark.usefixtures("one_thread")
H, W = 48, 64


def photo(seed: int = 0) -> np.ndarray:
    """:func:`helpers.photo` at this module's size."""
    return helpers.photo(seed, H, W)


def hole() -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[10:30, 20:44] = True
    return mask


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(task="paint"), "task must be one of"),
        (dict(sigma=-1), "noise level"),
        (dict(sigma=float("nan")), "noise level"),
        (dict(mask_color=(300, 0, 0)), "mask_color"),
        (dict(mask_threshold=1.0), "mask_threshold"),
        (dict(mask_grow=-1), "mask_grow"),
        (dict(samples=-2), "samples"),
        (dict(max_pixels=0), "max_pixels"),
        (dict(task="repair", mask_from_alpha=True), "repair finds the holes itself"),
    ],
)
def test_options_are_checked_when_made(kwargs, words):
    with pytest.raises(ValueError, match=words):
        JobOptions(**kwargs)


def test_the_tasks(restorer):
    img, holes = photo(), hole()
    auto = restore_pixels(restorer, img, holes, JobOptions())
    np.testing.assert_array_equal(auto.image, restorer.inpaint(img, holes))  # known pixels kept
    assert restore_pixels(restorer, img, None, JobOptions()).holes is None
    np.testing.assert_array_equal(
        restore_pixels(restorer, img, holes, JobOptions(task="denoise")).image,
        restorer.denoise(img),
    )
    np.testing.assert_array_equal(
        restore_pixels(restorer, img, holes, JobOptions(task="restore")).image,
        restorer.restore(img, holes),
    )
    np.testing.assert_array_equal(  # auto with a noise level: the known pixels are denoised too
        restore_pixels(restorer, img, holes, JobOptions(sigma=10)).image,
        restorer.restore(img, holes, 10),
    )
    with pytest.raises(ValueError, match="no hole mask"):
        restore_pixels(restorer, img, np.zeros((H, W), bool), JobOptions(task="inpaint"))


def test_float_images_keep_their_range_and_alpha_holes_come_back_opaque(restorer):
    hdr = photo().astype(np.float32) / 255 * 4.0 - 1.0  # about [-0.3, 2.3]
    out = restore_pixels(restorer, hdr, None, JobOptions()).image
    assert out.dtype == np.float32 and out.max() > 1.8 and out.min() < -0.1
    rgba = np.dstack([photo(), np.full((H, W), 255, np.uint8)])
    rgba[hole()] = (255, 0, 255, 0)
    options = JobOptions(mask_from_alpha=True)
    job = Job(Path("x.png"))
    from restore.io.images import ImageFile
    from restore.jobs import find_holes

    holes = find_holes(job, ImageFile(rgba), options)
    np.testing.assert_array_equal(holes, hole())
    out = restore_pixels(restorer, rgba, holes, options).image
    assert out.shape == (H, W, 4) and (out[:, :, 3] == 255).all()
    with pytest.raises(ValueError, match="8/16-bit"):
        restore_pixels(restorer, hdr, None, JobOptions(task="repair"))


def _inputs(folder: Path) -> dict[str, Path]:
    """An RGBA photo with a transparent hole and a float TIFF beyond [0, 1]."""
    folder.mkdir()
    rgba = np.dstack([photo(1), np.full((H, W), 255, np.uint8)])
    rgba[hole()] = (255, 0, 255, 0)
    Image.fromarray(rgba).save(folder / "a.png")
    hdr = photo(2).astype(np.float32) / 255 * 3.0
    cv2.imwrite(str(folder / "b.tif"), hdr[:, :, ::-1].copy())
    return {"a.png": folder / "a.png", "b.tif": folder / "b.tif"}


def test_every_front_end_gives_what_the_job_function_gives(weights, restorer, tmp_path, capsys):
    from restore.predict import ImageFiles, PredictionModule, RestoredFileWriter, file_loader
    from restore.ray_data import RayRestorer

    sources = _inputs(tmp_path / "in")
    options = JobOptions(mask_from_alpha=True)
    expected = {}
    for name, path in sources.items():
        result = restore_file(restorer, Job(path), options)
        write_result(result, options, tmp_path / "expected" / name)
        expected[name] = read_image_file(tmp_path / "expected" / name).pixels
    assert expected["b.tif"].max() > 1.5  # the float range survived
    assert (expected["a.png"][:, :, 3] == 255).all()  # the hole came back opaque

    # restore-image, one process, at the precision it picks (bf16 on a CPU with native bf16)
    args = [str(tmp_path / "in"), "-o", str(tmp_path / "cli"), "--mask-from-alpha"]
    assert main([*args, "--weights", str(weights), "--device", "cpu"]) == 0, capsys.readouterr()
    auto = Restorer.from_checkpoint(weights, device="cpu")
    for name, path in sources.items():
        write_result(restore_file(auto, Job(path), options), options, tmp_path / "auto" / name)
        np.testing.assert_array_equal(
            read_image_file(tmp_path / "cli" / name).pixels,
            read_image_file(tmp_path / "auto" / name).pixels,
        )

    # the Lightning predict module and writer
    module = PredictionModule(weights=str(weights), options=options, precision="fp32")
    writer = RestoredFileWriter(
        lambda p: write_result(p.result, options, tmp_path / "predict" / Path(p.item).name)
    )
    trainer = L.Trainer(
        accelerator="cpu", devices=1, callbacks=[writer], logger=False, enable_progress_bar=False
    )
    items = list(sources.values())
    trainer.predict(module, file_loader(ImageFiles(items)), return_predictions=False)
    for name in sources:
        got = read_image_file(tmp_path / "predict" / name).pixels
        np.testing.assert_array_equal(got, expected[name])

    # Ray Data's callable (the same arrays, the holes from a mask column)
    ray = RayRestorer(weights=str(weights), task="auto", device="cpu", precision="fp32")
    pixels = {name: read_image_file(path).pixels for name, path in sources.items()}
    column = np.empty(2, dtype=object)
    column[0], column[1] = pixels["a.png"], pixels["b.tif"]
    masks = np.empty(2, dtype=object)
    masks[0], masks[1] = hole(), np.zeros((H, W), bool)
    out = ray({"image": column, "mask": masks})
    assert list(out["error"]) == ["", ""]
    np.testing.assert_array_equal(out["image"][1], expected["b.tif"])
    filled = restore_pixels(restorer, pixels["a.png"], hole(), JobOptions())
    np.testing.assert_array_equal(out["image"][0], filled.image)

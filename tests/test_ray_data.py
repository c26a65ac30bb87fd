"""``RayRestorer`` in ``ray.data.Dataset.map_batches`` on a local 2-CPU Ray."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import hole, photo
from PIL import Image

from restore.ray_data import RayRestorer
from restore.restorer import Restorer

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pytest.importorskip("ray.data", reason="the ray extra is not installed")

OPTIONS = dict(device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_map_batches_restores_a_folder_like_restorer(tmp_path, weights, local_ray):
    sizes = [(64, 96), (64, 96), (48, 80), (64, 96), (40, 40)]
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(photo(i, h, w)).save(tmp_path / f"p{i}.png")
    ds = ray.data.read_images(str(tmp_path), include_paths=True, mode="RGB")
    out = ds.map_batches(
        RayRestorer,
        fn_constructor_kwargs=dict(weights=str(weights), **OPTIONS),
        batch_size=2,
        concurrency=2,
        num_cpus=0.5,  # two workers and Ray's read tasks on 2 CPUs (1 each would wait forever)
    ).take_all()
    reference = Restorer.from_checkpoint(weights, **OPTIONS)
    assert len(out) == len(sizes)
    for row in out:
        source = np.asarray(Image.open(row["path"]))
        assert row["image"].shape == source.shape and row["image"].dtype == np.uint8
        np.testing.assert_array_equal(row["image"], reference.denoise(source))


def test_the_callable_on_batches_of_one_size_and_of_mixed_sizes(weights):
    restorer = RayRestorer(weights=str(weights), task="inpaint", **OPTIONS)
    images = np.stack([photo(0), photo(1)])
    masks = np.stack([hole(), hole()])
    out = restorer({"image": images, "mask": masks, "id": np.array([7, 8])})
    assert out["image"].shape == images.shape and out["image"].dtype == np.uint8
    assert list(out["id"]) == [7, 8]
    np.testing.assert_array_equal(out["image"][:, ~hole()], images[:, ~hole()])
    assert not np.array_equal(out["image"][:, hole()], images[:, hole()])

    mixed = np.empty(2, dtype=object)
    mixed[0], mixed[1] = photo(0), photo(1, 40, 56)
    denoiser = RayRestorer(weights=str(weights), **OPTIONS)
    out = denoiser({"image": mixed})
    assert out["image"].dtype == object and out["image"][1].shape == (40, 56, 3)
    reference = Restorer.from_checkpoint(weights, **OPTIONS)
    np.testing.assert_array_equal(out["image"][1], reference.denoise(mixed[1]))
    with pytest.raises(ValueError, match="mask"):
        restorer({"image": images})
    with pytest.raises(ValueError, match="task"):
        RayRestorer(weights=str(weights), task="paint")


def test_an_image_that_fails_fails_alone_with_its_reason_in_the_error_column(weights):
    restorer = RayRestorer(weights=str(weights), task="inpaint", **OPTIONS)
    images = np.stack([photo(0), photo(1)])
    masks = np.stack([hole(), np.ones_like(hole())])  # the second covers the whole image
    out = restorer({"image": images, "mask": masks, "path": np.array(["a.png", "b.png"])})
    assert out["error"][0] == ""
    assert (
        out["error"][1] == "b.png: the mask covers the whole image: no known pixel to fill it from"
    )
    np.testing.assert_array_equal(out["image"][1], images[1])  # passed through unchanged
    assert not np.array_equal(out["image"][0][hole()], images[0][hole()])


def test_the_default_is_the_shipped_photo_model():
    assert RayRestorer().restorer.net.damage_head is not None


def test_bad_weights_are_one_line_naming_them(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match=f"^{re.escape(str(tmp_path / 'bad.pt'))}: not a restore"):
        RayRestorer(weights=str(tmp_path / "bad.pt"))

"""Tests for restore.data: file reading, synthetic images, patch datasets and data modules."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import RandomSampler, SequentialSampler

from restore.data import (
    ImageFolderDataModule,
    PairedImages,
    PatchDataset,
    SyntheticDataModule,
    SyntheticImages,
    synthetic_image,
)
from restore.io import IMAGE_SUFFIXES, list_images, read_image


def write(path: Path, image: np.ndarray, params: list[int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image, params or [])
    return path


def bgr8(index: int, height: int = 40, width: int = 50) -> np.ndarray:
    """A varied 8-bit BGR test image."""
    return np.round(synthetic_image(index, (height, width)) * 255).astype(np.uint8)[:, :, ::-1]


def write_bad_files(folder: Path) -> list[Path]:
    empty = folder / "broken" / "empty.png"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_bytes(b"")
    garbage = folder / "broken" / "random.jpg"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    return [empty, garbage]


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """10 readable images of mixed formats, depths and sizes in nested folders, plus 2 bad files."""
    root = tmp_path / "photos"
    write(root / "a.png", bgr8(0))
    write(root / "b.jpg", bgr8(1), [cv2.IMWRITE_JPEG_QUALITY, 95])
    write(root / "c.jpeg", bgr8(2, 60, 30))
    write(root / "sub" / "d.tif", (bgr8(3).astype(np.uint16) * 257))
    write(root / "sub" / "e.tiff", bgr8(4))
    write(root / "sub" / "deeper" / "f.bmp", cv2.cvtColor(bgr8(5), cv2.COLOR_BGR2GRAY))
    write(root / "sub" / "deeper" / "g.webp", bgr8(6), [cv2.IMWRITE_WEBP_QUALITY, 101])
    write(root / "h.png", cv2.cvtColor(bgr8(7), cv2.COLOR_BGR2BGRA))
    write(root / "i.png", cv2.cvtColor(bgr8(8), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    write(root / "small.png", bgr8(9, 20, 24))  # smaller than the 32-pixel patches used below
    write_bad_files(root)
    return root


def folder_module(root: Path, **kwargs) -> ImageFolderDataModule:
    options = dict(patch_size=32, val_patch_size=48, batch_size=4, val_batch_size=3, num_workers=0)
    options.update(kwargs)
    return ImageFolderDataModule(root, **options)


def setup_quietly(datamodule) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datamodule.setup("fit")


# --- io ---------------------------------------------------------------------------------------


def test_list_images_is_recursive_sorted_and_case_insensitive(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    expected = [
        write(tmp_path / f"d{i % 2}" / "deep" / f"img{i}{suffix}", image)
        for i, suffix in enumerate(IMAGE_SUFFIXES)
    ]
    expected.append(write(tmp_path / "UPPER.PNG", image))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "folder.png").mkdir()

    assert list_images(tmp_path) == sorted(expected)
    assert list_images(str(tmp_path)) == sorted(expected)
    assert {path.suffix.lower() for path in list_images(tmp_path)} == set(IMAGE_SUFFIXES)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("x.png", None),
        ("x.bmp", None),
        ("x.tif", None),
        ("x.webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),  # quality > 100 is lossless
    ],
)
def test_read_image_lossless_8bit_colour_is_rgb_in_unit_range(tmp_path, name, params):
    bgr = bgr8(0, 12, 10)
    image = read_image(write(tmp_path / name, bgr, params), channels=3)
    assert image.dtype == np.float32
    assert image.shape == (12, 10, 3)
    np.testing.assert_allclose(image, bgr[:, :, ::-1] / 255.0, atol=1e-6)


def test_read_image_jpeg_is_close_to_the_original(tmp_path):
    bgr = np.zeros((16, 16, 3), np.uint8)
    bgr[:] = (30, 120, 220)
    image = read_image(write(tmp_path / "x.jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 100]), 3)
    assert image.shape == (16, 16, 3)
    expected = np.broadcast_to(np.float32([220, 120, 30]) / 255, image.shape)
    np.testing.assert_allclose(image, expected, atol=0.02)


def test_read_image_16bit_scales_by_65535(tmp_path):
    gray = np.array([[0, 32768, 65535]], np.uint16)
    image = read_image(write(tmp_path / "x.png", gray), channels=3)
    assert image.dtype == np.float32
    assert image.shape == (1, 3, 3)
    assert image[0, 2].tolist() == [1.0, 1.0, 1.0]
    assert image[0, 0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(image[0, 1], 32768 / 65535, atol=1e-6)

    bgr = np.random.default_rng(0).integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    colour = read_image(write(tmp_path / "x.tif", bgr), channels=3)
    np.testing.assert_allclose(colour, bgr[:, :, ::-1] / 65535.0, atol=1e-6)


def test_read_image_gray_is_replicated_or_kept(tmp_path):
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5) * 12
    path = write(tmp_path / "gray.png", gray)
    rgb = read_image(path, channels=3)
    assert rgb.shape == (4, 5, 3)
    for channel in range(3):
        np.testing.assert_allclose(rgb[:, :, channel], gray / 255.0, atol=1e-6)
    luma = read_image(path, channels=1)
    assert luma.shape == (4, 5, 1)
    np.testing.assert_allclose(luma[:, :, 0], gray / 255.0, atol=1e-6)


def test_read_image_drops_alpha(tmp_path):
    bgra = np.zeros((3, 4, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = 10, 20, 30
    bgra[..., 3] = np.arange(12).reshape(3, 4) * 20  # alpha must not leak into the colours
    image = read_image(write(tmp_path / "rgba.png", bgra), channels=3)
    assert image.shape == (3, 4, 3)
    expected = np.broadcast_to(np.float32([30, 20, 10]) / 255, image.shape)
    np.testing.assert_allclose(image, expected, atol=1e-6)


def test_read_image_luma_uses_bt601_weights(tmp_path):
    bgr = bgr8(1, 8, 8)
    luma = read_image(write(tmp_path / "x.png", bgr), channels=1)
    b, g, r = (bgr[:, :, i] / 255.0 for i in range(3))
    assert luma.shape == (8, 8, 1)
    np.testing.assert_allclose(luma[:, :, 0], 0.299 * r + 0.587 * g + 0.114 * b, atol=1e-3)


def test_read_image_rejects_bad_files(tmp_path):
    for path in [*write_bad_files(tmp_path), tmp_path / "missing.png"]:
        with pytest.raises(ValueError) as error:
            read_image(path, 3)
        assert str(path) in str(error.value)
    with pytest.raises(ValueError, match="channels"):
        read_image(write(tmp_path / "ok.png", bgr8(0)), channels=2)


def test_read_image_decodes_like_restore_image(tmp_path):
    # One decoder for training and restore-image: EXIF orientation applied, truncated files refused.
    from PIL import Image

    rgb = bgr8(3, 20, 40)[:, :, ::-1]
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(rgb).save(path, exif=exif, quality=100)
    assert read_image(path).shape == (40, 20, 3)
    full = write(tmp_path / "full.png", bgr8(0))
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated"):
        read_image(cut)


# --- synthetic images -------------------------------------------------------------------------


def test_synthetic_image_is_deterministic_per_seed_and_index():
    image = synthetic_image(3, 64, seed=1)
    assert image.dtype == np.float32
    assert image.shape == (64, 64, 3)
    assert 0.0 <= image.min() and image.max() <= 1.0
    np.testing.assert_array_equal(image, synthetic_image(3, 64, seed=1))
    assert not np.allclose(image, synthetic_image(4, 64, seed=1))
    assert not np.allclose(image, synthetic_image(3, 64, seed=2))
    assert synthetic_image(0, (48, 80)).shape == (48, 80, 3)
    assert synthetic_image(0, 32, channels=1).shape == (32, 32, 1)


def test_synthetic_images_have_edges_flat_regions_and_contrast():
    for index in range(8):
        image = synthetic_image(index, 96)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        step = np.abs(np.diff(gray, axis=1))
        assert image.std() > 0.1
        assert (step > 0.1).mean() > 0.005  # sharp edges
        assert (step < 0.005).mean() > 0.2  # flat or smooth regions
        assert len(np.unique(np.round(image * 255))) > 50


def test_synthetic_images_dataset_and_cache():
    images = SyntheticImages(4, (24, 32), channels=3, seed=5, start=10)
    assert len(images) == 4
    item = images[1]
    assert item.dtype == torch.float32
    assert item.shape == (3, 24, 32)
    expected = synthetic_image(11, (24, 32), channels=3, seed=5).transpose(2, 0, 1)
    np.testing.assert_array_equal(item.numpy(), expected)
    cached = SyntheticImages(4, (24, 32), channels=3, seed=5, start=10, cache=True)
    for index in range(4):
        assert torch.equal(images[index], cached[index])
    with pytest.raises(IndexError):
        images[4]


# --- patch dataset ----------------------------------------------------------------------------


def dihedral(patch: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(p, k) for p in (patch, patch[:, ::-1]) for k in range(4)]


def test_train_patches_are_flipped_or_rotated_windows(tmp_path):
    values = (np.arange(9 * 7, dtype=np.uint16).reshape(9, 7) + 1) * 1000  # all distinct
    path = write(tmp_path / "ramp.png", values)
    image = read_image(path, channels=1)[:, :, 0]
    windows = [image[t : t + 4, c : c + 4] for t in range(6) for c in range(4)]
    candidates = [c for window in windows for c in dihedral(window)]

    dataset = PatchDataset([path], patch_size=4, train=True, channels=1, length=60)
    torch.manual_seed(0)
    patches = [dataset[i] for i in range(len(dataset))]
    for patch in patches:
        assert patch.shape == (1, 4, 4)
        assert any(np.array_equal(patch[0].numpy(), c) for c in candidates)
    assert len({patch.numpy().tobytes() for patch in patches}) > 20  # crops and transforms vary


def test_eval_patches_are_centre_crops_with_reflect_padding(tmp_path):
    large = write(tmp_path / "large.png", bgr8(0, 10, 12))
    small = write(tmp_path / "small.png", bgr8(1, 3, 5))
    dataset = PatchDataset([large, small], patch_size=6, train=False, channels=3, length=4)
    assert len(dataset) == 4

    expected_large = read_image(large, 3)[2:8, 3:9]
    expected_small = np.pad(read_image(small, 3), ((1, 2), (0, 1), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(dataset[0].numpy(), expected_large.transpose(2, 0, 1))
    np.testing.assert_array_equal(dataset[1].numpy(), expected_small.transpose(2, 0, 1))
    assert torch.equal(dataset[2], dataset[0])  # indices wrap around the images
    assert PatchDataset([small], patch_size=6, train=True)[0].shape == (3, 6, 6)


# --- data modules -----------------------------------------------------------------------------


def test_folder_datamodule_skips_unreadable_files_with_one_warning(photo_folder):
    datamodule = folder_module(photo_folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        datamodule.setup("fit")
    messages = [str(w.message) for w in caught if "unreadable" in str(w.message)]
    assert len(messages) == 1
    assert "skipped 2 unreadable images" in messages[0]
    assert "empty.png" in messages[0] and "random.jpg" in messages[0]

    used = [*datamodule.train_files, *datamodule.val_files]
    assert sorted(used) == [p for p in list_images(photo_folder) if p.parent.name != "broken"]


@pytest.mark.parametrize("channels", [3, 1])
def test_folder_datamodule_batches(photo_folder, channels):
    datamodule = folder_module(photo_folder, channels=channels, val_fraction=0.3)
    setup_quietly(datamodule)
    batches = list(datamodule.train_dataloader())
    assert len(batches) == 7 // 4  # 7 training images, drop_last
    for batch in batches:
        assert batch.dtype == torch.float32
        assert batch.shape == (4, channels, 32, 32)
        assert 0.0 <= batch.min() and batch.max() <= 1.0
    val = list(datamodule.val_dataloader())
    assert [b.shape for b in val] == [(3, channels, 48, 48)]


def test_folder_datamodule_validation_is_fixed(photo_folder):
    datamodule = folder_module(photo_folder, val_fraction=0.4, val_batch_size=3)
    setup_quietly(datamodule)
    first = list(datamodule.val_dataloader())
    second = list(datamodule.val_dataloader())
    assert [b.shape[0] for b in first] == [3, 1]
    for a, b in zip(first, second, strict=False):
        assert torch.equal(a, b)


def test_folder_datamodule_split_is_disjoint_seeded_and_capped(photo_folder):
    datamodule = folder_module(photo_folder, val_fraction=0.2, split_seed=0)
    setup_quietly(datamodule)
    train, val = set(datamodule.train_files), set(datamodule.val_files)
    assert len(val) == 2 and len(train) == 8
    assert not train & val

    again = folder_module(photo_folder, val_fraction=0.2, split_seed=0)
    setup_quietly(again)
    assert set(again.val_files) == val
    other = folder_module(photo_folder, val_fraction=0.2, split_seed=1)
    setup_quietly(other)
    assert set(other.val_files) != val

    capped = folder_module(photo_folder, val_fraction=0.9, max_val_images=3)
    setup_quietly(capped)
    assert len(capped.val_files) == 3 and len(capped.train_files) == 7
    tiny = folder_module(photo_folder, val_fraction=0.01)
    setup_quietly(tiny)
    assert len(tiny.val_files) == 1


def test_folder_datamodule_val_root(photo_folder, tmp_path):
    val_root = tmp_path / "val"
    val_files = [write(val_root / f"v{i}.png", bgr8(20 + i)) for i in range(3)]
    datamodule = folder_module(photo_folder, val_root=val_root)
    setup_quietly(datamodule)
    assert sorted(datamodule.val_files) == val_files
    assert len(datamodule.train_files) == 10

    inside = folder_module(photo_folder, val_root=photo_folder / "sub", max_val_images=2)
    setup_quietly(inside)
    train, val = set(inside.train_files), set(inside.val_files)
    assert len(val) == 2 and all("sub" in p.parts for p in val)
    assert not train & val and len(train) == 8


def test_folder_datamodule_single_image_is_shared_with_a_warning(tmp_path):
    write(tmp_path / "only.png", bgr8(0))
    datamodule = folder_module(tmp_path, batch_size=4)
    with pytest.warns(UserWarning, match="only 1 readable image"):
        datamodule.setup("fit")
    assert datamodule.train_files == datamodule.val_files == [tmp_path / "only.png"]
    assert len(datamodule.train_dataloader()) == 1  # reused to fill one batch
    assert next(iter(datamodule.train_dataloader())).shape == (4, 3, 32, 32)


def test_cached_and_decoded_per_patch_batches_are_equal(photo_folder):
    batches = []
    for cache in (True, False):
        datamodule = folder_module(photo_folder, cache=cache, val_fraction=0.3)
        setup_quietly(datamodule)
        torch.manual_seed(0)
        batches.append([next(iter(datamodule.train_dataloader())), *datamodule.val_dataloader()])
    for cached, decoded in zip(*batches, strict=False):
        assert torch.equal(cached, decoded)
    assert isinstance(datamodule.data_train.source, list)


def test_several_roots_are_split_each_and_pooled(photo_folder, tmp_path):
    other = tmp_path / "other"
    others = [write(other / f"o{i}.png", bgr8(40 + i)) for i in range(20)]
    alone = folder_module(photo_folder, val_fraction=0.2)
    setup_quietly(alone)
    both = folder_module([photo_folder, other], val_fraction=0.2)
    setup_quietly(both)
    # The first folder's split does not move when a folder is added; the second gives 4 more.
    assert set(alone.val_files) < set(both.val_files)
    assert len(both.val_files) == 2 + 4 and len(both.train_files) == 8 + 16
    assert set(both.train_files) | set(both.val_files) == set(alone.train_files) | set(
        alone.val_files
    ) | set(others)
    assert not set(both.train_files) & set(both.val_files)


def write_pairs(folder: Path, count: int, noisy: str, clean: str) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        image = bgr8(i, 40, 48)
        write(folder / f"p{i}{clean}.png", image)
        noise = rng.normal(0, 8, image.shape)
        write(folder / f"p{i}{noisy}.png", np.clip(image + noise, 0, 255).astype(np.uint8))


def test_real_pairs_are_served_as_extra_validation_loaders(photo_folder, tmp_path):
    write_pairs(tmp_path / "cc", 3, "_real", "_mean")
    write_pairs(tmp_path / "nam", 2, "_noise", "_gt")
    real = {
        "cc": {"root": tmp_path / "cc", "noisy_suffix": "_real", "clean_suffix": "_mean"},
        "nam": {"root": tmp_path / "nam", "noisy_suffix": "_noise", "clean_suffix": "_gt"},
    }
    datamodule = folder_module(photo_folder, real_val=real)
    setup_quietly(datamodule)
    synthetic, cc, nam = datamodule.val_dataloader()
    assert next(iter(synthetic)).shape[1:] == (3, 48, 48)
    items = list(cc)
    assert len(items) == 3 and len(list(nam)) == 2
    batch = items[0]
    assert batch["name"] == ["cc"] and batch["noisy"].shape == batch["clean"].shape == (
        1,
        3,
        40,
        48,
    )
    rms = (batch["noisy"] - batch["clean"]).square().mean().sqrt() * 255
    assert 6 < rms < 10
    plain = folder_module(photo_folder)
    setup_quietly(plain)
    assert isinstance(plain.val_dataloader(), torch.utils.data.DataLoader)


def test_real_pairs_errors_name_the_file(tmp_path):
    write_pairs(tmp_path / "cc", 2, "_real", "_mean")
    (tmp_path / "cc" / "p1_real.png").unlink()
    with pytest.raises(ValueError, match="p1_mean.png: expected one image p1_real"):
        PairedImages(tmp_path / "cc", "_real", "_mean", "cc")
    with pytest.raises(ValueError, match="no noisy/clean pairs"):
        PairedImages(tmp_path / "cc", "_noisy", "_clean", "cc")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        PairedImages(tmp_path / "nowhere", "_real", "_mean", "cc")


def test_folder_datamodule_errors_name_the_folder(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="image folder not found") as error:
        folder_module(missing).setup("fit")
    assert str(missing) in str(error.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="no images found") as error:
        folder_module(empty).setup("fit")
    assert str(empty) in str(error.value)
    assert all(suffix in str(error.value) for suffix in IMAGE_SUFFIXES)

    broken = tmp_path / "broken_only"
    write_bad_files(broken)
    with pytest.raises(ValueError, match="none of the 2 image files") as error:
        folder_module(broken).setup("fit")
    assert str(broken) in str(error.value)

    good = tmp_path / "good"
    write(good / "a.png", bgr8(0))
    with pytest.raises(FileNotFoundError, match="image folder not found") as error:
        folder_module(good, val_root=tmp_path / "nowhere").setup("fit")
    assert str(tmp_path / "nowhere") in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patch_size": 0}, "patch_size must be a positive integer"),
        ({"val_patch_size": 12.5}, "val_patch_size must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"val_batch_size": True}, "val_batch_size must be a positive integer"),
        ({"num_workers": -1}, "num_workers must be an integer >= 0"),
        ({"channels": 2}, "channels must be 1"),
        ({"val_fraction": 0.0}, r"val_fraction must be in \(0, 1\)"),
        ({"val_fraction": 1.0}, r"val_fraction must be in \(0, 1\)"),
        ({"max_val_images": 0}, "max_val_images must be a positive integer"),
    ],
)
def test_folder_datamodule_validates_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageFolderDataModule(tmp_path, **kwargs)


def test_folder_datamodule_with_worker_processes(photo_folder):
    datamodule = folder_module(photo_folder, num_workers=2, val_fraction=0.2)
    setup_quietly(datamodule)
    train, val = datamodule.train_dataloader(), datamodule.val_dataloader()
    assert isinstance(train.sampler, RandomSampler) and train.drop_last
    assert isinstance(val.sampler, SequentialSampler) and not val.drop_last
    assert train.persistent_workers and val.persistent_workers
    assert [b.shape for b in train] == [(4, 3, 32, 32)] * 2
    assert [b.shape for b in val] == [(2, 3, 48, 48)]


def test_synthetic_datamodule():
    datamodule = SyntheticDataModule(
        num_train=6,
        num_val=3,
        image_size=40,
        seed=2,
        patch_size=16,
        val_patch_size=32,
        batch_size=4,
        val_batch_size=2,
        num_workers=0,
    )
    datamodule.setup("fit")
    train = list(datamodule.train_dataloader())
    assert [b.shape for b in train] == [(4, 3, 16, 16)]
    assert all(0.0 <= b.min() and b.max() <= 1.0 for b in train)
    val = torch.cat(list(datamodule.val_dataloader()))
    assert val.shape == (3, 3, 32, 32)
    for index in range(3):  # validation images follow the training ones
        expected = synthetic_image(6 + index, 40, 3, seed=2)[4:36, 4:36].transpose(2, 0, 1)
        np.testing.assert_array_equal(val[index].numpy(), expected)
    assert torch.equal(val, torch.cat(list(datamodule.val_dataloader())))

    gray = SyntheticDataModule(
        num_train=2,
        num_val=1,
        image_size=24,
        channels=1,
        cache=False,
        patch_size=16,
        val_patch_size=32,
        batch_size=2,
        num_workers=0,
    )
    gray.setup("fit")
    assert next(iter(gray.train_dataloader())).shape == (2, 1, 16, 16)
    assert next(iter(gray.val_dataloader())).shape == (1, 1, 32, 32)

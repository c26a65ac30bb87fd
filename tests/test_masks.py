"""The hole rule (restore.io.masks): one reading of mask files, arrays, PIL images and tensors,
the same through the API, the command line and training."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from restore.cli import main
from restore.corruption import FileMasks
from restore.io.images import read_image_file
from restore.io.masks import holes_in_mask, holes_in_mask_tensor, load_mask, read_mask
from restore.restorer import Restorer


def _pattern(h: int = 20, w: int = 30, shift: int = 0) -> np.ndarray:
    img = np.zeros((h, w), np.uint8)
    img[5:10, 3 + shift : 12 + shift] = 255
    img[15, 20] = 200  # > 127: hole
    img[16, 21] = 100  # <= 127: known
    img[17, 22] = 127  # exactly 127: known
    return img


def test_load_mask_reads_white_as_hole(tmp_path):
    path = tmp_path / "m.png"
    assert cv2.imwrite(str(path), _pattern())
    mask = load_mask(path)
    expected = (_pattern() > 127).astype(np.float32)
    assert mask.shape == (1, 1, 20, 30) and mask.dtype == torch.float32
    assert torch.equal(mask[0, 0], torch.from_numpy(expected))
    assert mask.sum().item() == 5 * 9 + 1
    # A 16-bit file: full white is a hole too.
    path16 = tmp_path / "m16.png"
    assert cv2.imwrite(str(path16), _pattern().astype(np.uint16) * 257)
    assert torch.equal(load_mask(path16), mask)
    # A colour file: a hole where the brightest channel is > 127, so a bright red stroke counts
    # (its luma, 60, would not); as in restore-image --masks.
    path_rgb = tmp_path / "rgb.png"
    rgb = np.repeat(_pattern()[..., None], 3, axis=2)
    rgb[0, 0] = (0, 0, 200)  # BGR: red
    assert cv2.imwrite(str(path_rgb), rgb)
    expected_rgb = mask.clone()
    expected_rgb[..., 0, 0] = 1
    assert torch.equal(load_mask(path_rgb), expected_rgb)


def test_holes_in_mask_ignores_alpha_and_takes_any_type():
    gray_alpha = np.stack([_pattern(), np.full((20, 30), 255, np.uint8)], axis=2)
    assert np.array_equal(holes_in_mask(gray_alpha), _pattern() > 127)
    rgba = np.zeros((2, 2, 4), np.uint16)
    rgba[..., 3] = 65535
    rgba[0, 1, 1] = 40000  # one bright channel, 16 bits
    assert holes_in_mask(rgba).tolist() == [[False, True], [False, False]]
    assert holes_in_mask(np.array([[0.2, 0.7]])).tolist() == [[False, True]]
    with pytest.raises(ValueError, match="mask"):
        holes_in_mask(np.zeros((2, 2, 2, 2)))


def test_load_mask_resizes_with_nearest_neighbour(tmp_path):
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), _pattern())
    big = load_mask(path, size=(40, 60))
    assert big.shape == (1, 1, 40, 60)
    expected = np.kron((_pattern() > 127).astype(np.float32), np.ones((2, 2), np.float32))
    assert torch.equal(big[0, 0], torch.from_numpy(expected))
    small = load_mask(path, size=(10, 15))
    assert small.shape == (1, 1, 10, 15)
    assert ((small == 0) | (small == 1)).all() and small.sum() > 0
    assert torch.equal(load_mask(path, size=(20, 30)), load_mask(path))


def test_load_mask_unreadable_file_raises_naming_the_path(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="broken.png"):
        load_mask(bad)
    with pytest.raises(ValueError, match="missing.png"):
        load_mask(tmp_path / "missing.png")


def test_file_masks_draw_from_the_files_resized_to_the_images(tmp_path):
    (tmp_path / "sub").mkdir()
    cv2.imwrite(str(tmp_path / "a.png"), _pattern())
    cv2.imwrite(str(tmp_path / "sub" / "b.png"), _pattern(shift=10))
    (tmp_path / "notes.txt").write_text("not a mask")
    gen_masks = FileMasks(tmp_path)
    assert len(gen_masks.files) == 2
    masks = gen_masks(
        torch.zeros(32, 3, 40, 60, dtype=torch.float64), torch.Generator().manual_seed(22)
    )
    assert masks.shape == (32, 1, 40, 60) and masks.dtype == torch.float64
    a = load_mask(tmp_path / "a.png", (40, 60))[0].double()
    b = load_mask(tmp_path / "sub" / "b.png", (40, 60))[0].double()
    is_a = torch.tensor([torch.equal(m, a) for m in masks])
    is_b = torch.tensor([torch.equal(m, b) for m in masks])
    assert (is_a ^ is_b).all() and is_a.any() and is_b.any()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty"):
        FileMasks(empty)


# --------------------------------------------------------------------------------------------------
# one rule through every entry point


def _hole_square(h: int = 64, w: int = 64) -> np.ndarray:
    holes = np.zeros((h, w), bool)
    holes[20:30, 30:40] = True  # a 10 x 10 hole
    return holes


def _mask_files(folder, holes: np.ndarray) -> dict[str, object]:
    """The same hole as files and arrays of every kind: name -> path or array."""
    white = holes.astype(np.uint8) * 255
    opaque = np.full_like(white, 255)
    rgba = np.stack([white, white, white, opaque], axis=2)  # black opaque background, white hole
    gray_alpha = np.stack([white, opaque], axis=2)
    sixteen = holes.astype(np.uint16) * 65535
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, pixels, mode in (
        ("rgba", rgba, "RGBA"),
        ("gray_alpha", gray_alpha, "LA"),
        ("gray16", sixteen, None),
        ("gray", white, "L"),
    ):
        path = folder / f"{name}.png"
        if mode is None:
            assert cv2.imwrite(str(path), pixels)
        else:
            Image.fromarray(pixels, mode).save(path)
        files[name] = path
    return {
        **files,
        "rgba_array": rgba,
        "gray_alpha_array": gray_alpha,
        "uint16_array": sixteen,
        "bool_array": holes,
        "zero_one_uint8": holes.astype(np.uint8),
        "float_array": holes.astype(np.float32),
        "pil_rgba": Image.fromarray(rgba, "RGBA"),
        "tensor_rgba": torch.from_numpy(rgba).permute(2, 0, 1).float() / 255,
        "tensor_bool": torch.from_numpy(holes)[None, None],
    }


def test_every_mask_kind_gives_the_same_holes(tmp_path):
    holes = _hole_square()
    for name, mask in _mask_files(tmp_path / "masks", holes).items():
        if isinstance(mask, torch.Tensor):
            got = holes_in_mask_tensor(mask)[0, 0].numpy()
        elif isinstance(mask, np.ndarray) or isinstance(mask, Image.Image):
            got = holes_in_mask(mask)
        else:
            got = read_mask(mask)
            assert np.array_equal(load_mask(mask)[0, 0].numpy() > 0, holes), name
        assert np.array_equal(got, holes), name


def test_the_api_changes_only_the_hole_whatever_the_mask_kind(tmp_path, weights):
    """The bug of issue #12: an RGBA mask made every pixel a hole in ``Restorer.inpaint``."""
    holes = _hole_square()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    restorer = Restorer.from_checkpoint(weights, device="cpu", precision="fp32")
    for name, mask in _mask_files(tmp_path / "masks", holes).items():
        out = restorer.inpaint(image, mask)
        changed = (out != image).any(axis=2)
        assert not changed[~holes].any(), name  # known pixels kept exactly
        assert changed[holes].sum() > 50, name


def test_the_cli_and_training_read_the_same_holes(tmp_path, weights):
    holes = _hole_square()
    files = {
        k: v
        for k, v in _mask_files(tmp_path / "all", holes).items()
        if k in ("rgba", "gray_alpha", "gray16")
    }
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for name, path in files.items():
        photos, masks = tmp_path / name / "photos", tmp_path / name / "masks"
        photos.mkdir(parents=True)
        masks.mkdir(parents=True)
        cv2.imwrite(str(photos / "shot.png"), image)
        (masks / f"shot{path.suffix}").write_bytes(path.read_bytes())
        out_dir = tmp_path / name / "out"
        assert (
            main(
                [
                    str(photos),
                    "-o",
                    str(out_dir),
                    "--masks",
                    str(masks),
                    "--weights",
                    str(weights),
                    "--device",
                    "cpu",
                ]
            )
            == 0
        )
        out = read_image_file(out_dir / "shot.png").pixels
        changed = (out != cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).any(axis=2)
        assert not changed[~holes].any() and changed[holes].sum() > 50, name
        drawn = FileMasks(masks)(torch.zeros(1, 3, 64, 64), torch.Generator().manual_seed(0))
        assert np.array_equal(drawn[0, 0].numpy() > 0, holes), name


def test_mask_rule_edges():
    assert holes_in_mask(np.array([[0, 1]], np.uint8)).tolist() == [[False, True]]  # 0/1 mask
    assert holes_in_mask(np.array([[0, 1, 200]], np.uint8)).tolist() == [[False, False, True]]
    assert holes_in_mask(np.array([[127, 128]], np.uint8)).tolist() == [[False, True]]
    assert holes_in_mask(np.array([[32767, 32768]], np.uint16)).tolist() == [[False, True]]
    assert holes_in_mask(np.array([[0.5, 0.51]], np.float32)).tolist() == [[False, True]]
    assert not holes_in_mask(np.zeros((3, 3), np.uint8)).any()
    batch = torch.zeros(2, 1, 4, 4)
    batch[1, 0, 0, 0] = 1
    assert holes_in_mask_tensor(batch).shape == (2, 1, 4, 4)
    assert holes_in_mask_tensor(batch.bfloat16()).sum() == 1
    with pytest.raises(ValueError, match="1-4 channels"):
        holes_in_mask(np.zeros((2, 2, 5)))

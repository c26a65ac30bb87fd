"""restore.io.images: OpenCV decoding, Pillow metadata (EXIF orientation, ICC), atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

import restore.io.images as imagefile
from restore.io.images import ImageFile, ImageFileError, read_image_file, write_image_file

H, W = 48, 64  # multiples of 16: JPEG blocks line up with the test patterns


def photo(channels: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Smooth colour image plus mild noise (compresses like a photo, so lossy codecs stay close)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    planes = [0.5 + 0.35 * np.sin(x / (7 + 3 * c) + c) * np.cos(y / (9 + 2 * c)) for c in range(3)]
    img = np.stack(planes, -1) + rng.normal(0, 0.01, (H, W, 3))
    scale = np.iinfo(dtype).max
    img = np.clip(np.round(img * scale), 0, scale).astype(dtype)
    if channels == 1:
        return img[:, :, 1]
    if channels == 4:
        alpha = np.tile(np.linspace(0, scale, W).round().astype(dtype), (H, 1))
        return np.dstack([img, alpha])
    return img


def quadrants() -> np.ndarray:
    """Four flat colours, one per 24x32 quadrant: easy to follow through rotations and JPEG."""
    pattern = np.zeros((H, W, 3), np.uint8)
    pattern[: H // 2, : W // 2] = (250, 10, 10)
    pattern[: H // 2, W // 2 :] = (10, 250, 10)
    pattern[H // 2 :, : W // 2] = (10, 10, 250)
    pattern[H // 2 :, W // 2 :] = (250, 250, 10)
    return pattern


def exif_bytes(orientation: int, make: str = "ACME Cameras") -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    return exif.tobytes()


@pytest.fixture(scope="module")
def icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ------------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("ext", ["png", "tif", "bmp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_8bit_round_trip_is_exact(tmp_path, ext, channels):
    pixels = photo(channels)
    path = tmp_path / f"img.{ext}"
    write_image_file(path, ImageFile(pixels))
    back = read_image_file(path).pixels
    assert back.dtype == np.uint8 and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_rgba_8bit_round_trip_is_exact(tmp_path, ext):
    pixels = photo(4)  # alpha ramps from 0 to 255: colour under partial alpha must survive
    path = tmp_path / f"img.{ext}"
    write_image_file(path, ImageFile(pixels))
    back = read_image_file(path).pixels
    assert back.shape == (H, W, 4) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, pixels)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_gray_alpha_8bit_stays_gray_alpha(tmp_path, ext):
    pixels = photo(4)[:, :, [0, 3]]  # gray + alpha (OpenCV alone decodes it as RGBA)
    path = tmp_path / f"la.{ext}"
    write_image_file(path, ImageFile(pixels))
    assert Image.open(path).mode == "LA"
    back = read_image_file(path).pixels
    assert back.shape == (H, W, 2) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, pixels)
    coloured = photo(4)  # a real RGBA file keeps its colours
    write_image_file(tmp_path / f"rgba.{ext}", ImageFile(coloured))
    assert read_image_file(tmp_path / f"rgba.{ext}").pixels.shape == (H, W, 4)


def test_gray_alpha_16bit_is_written_as_rgba(tmp_path):
    pixels = photo(4, np.uint16)[:, :, [0, 3]]
    write_image_file(tmp_path / "la16.png", ImageFile(pixels))  # OpenCV has no 16-bit gray + alpha
    back = read_image_file(tmp_path / "la16.png").pixels
    assert back.dtype == np.uint16 and back.shape == (H, W, 4)
    np.testing.assert_array_equal(back[:, :, [0, 3]], pixels)
    assert (back[:, :, 1] == back[:, :, 0]).all() and (back[:, :, 2] == back[:, :, 0]).all()


def test_rgba_tiff_from_pillow_is_not_premultiplied(tmp_path):
    """OpenCV's libtiff RGBA path premultiplies colour by alpha; the stored colour must come
    back."""
    pixels = photo(4)
    pixels[:, :, 3] = 128
    Image.fromarray(pixels).save(tmp_path / "a.tif")
    np.testing.assert_array_equal(read_image_file(tmp_path / "a.tif").pixels, pixels)


@pytest.mark.parametrize("ext, tolerance", [("jpg", 3.0), ("webp", 3.0)])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossy_8bit_round_trip_is_close(tmp_path, ext, tolerance, channels):
    pixels = photo(channels)
    path = tmp_path / f"img.{ext}"
    write_image_file(path, ImageFile(pixels), quality=95)
    back = read_image_file(path).pixels
    assert back.dtype == np.uint8
    if ext == "webp" and channels == 1:  # WebP has no gray mode: it comes back as RGB
        assert back.shape == (H, W, 3)
        back = back[:, :, 1]
    assert back.shape == pixels.shape
    assert np.abs(back.astype(float) - pixels).mean() < tolerance


def test_webp_rgba_keeps_alpha_and_quality_100_is_lossless(tmp_path):
    pixels = photo(4)
    assert (pixels[:, :, 3] == 0).any()  # the colour under fully transparent pixels survives too
    write_image_file(tmp_path / "a.webp", ImageFile(pixels), quality=100)
    np.testing.assert_array_equal(read_image_file(tmp_path / "a.webp").pixels, pixels)


def test_jpeg_drops_alpha(tmp_path):
    pixels = photo(4)
    write_image_file(tmp_path / "a.jpg", ImageFile(pixels))
    back = read_image_file(tmp_path / "a.jpg").pixels
    assert back.shape == (H, W, 3)
    assert np.abs(back.astype(float) - pixels[:, :, :3]).mean() < 3


@pytest.mark.parametrize("ext", ["png", "tif"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_round_trip_keeps_depth_and_values(tmp_path, ext, channels):
    pixels = photo(channels, np.uint16)
    assert (pixels % 257 != 0).any()  # not just 8-bit values scaled up
    path = tmp_path / f"deep.{ext}"
    write_image_file(path, ImageFile(pixels))
    back = read_image_file(path).pixels
    assert back.dtype == np.uint16 and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16  # the file is 16-bit


def test_16bit_gray_png_from_pillow(tmp_path):
    pixels = photo(1, np.uint16)
    Image.fromarray(pixels).save(tmp_path / "g16.png")  # Pillow mode I;16
    back = read_image_file(tmp_path / "g16.png").pixels
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, pixels)


def test_16bit_to_8bit_formats_is_scaled(tmp_path):
    pixels = photo(3, np.uint16)
    write_image_file(tmp_path / "a.bmp", ImageFile(pixels))
    back = read_image_file(tmp_path / "a.bmp").pixels
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, np.round(pixels / 257.0).astype(np.uint8))


def test_written_files_get_umask_permissions(tmp_path):
    write_image_file(tmp_path / "a.png", ImageFile(photo()))
    write_image_file(tmp_path / "b.tif", ImageFile(photo(3, np.uint16)))
    umask = os.umask(0)
    os.umask(umask)
    for name in ("a.png", "b.tif"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_overwrite_replaces_content(tmp_path):
    path = tmp_path / "a.png"
    write_image_file(path, ImageFile(photo(seed=1)))
    write_image_file(path, ImageFile(photo(seed=2)))
    np.testing.assert_array_equal(read_image_file(path).pixels, photo(seed=2))
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_unsupported_output_suffix(tmp_path):
    with pytest.raises(ImageFileError, match="unsupported output format .gif"):
        write_image_file(tmp_path / "a.gif", ImageFile(photo()))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------
# EXIF orientation and ICC profiles

EXPECTED = {6: lambda a: np.rot90(a, -1), 3: lambda a: a[::-1, ::-1], 8: lambda a: np.rot90(a, 1)}


@pytest.mark.parametrize("orientation", [6, 3, 8])
def test_exif_orientation_applied_on_read_png(tmp_path, orientation):
    pattern = quadrants()
    Image.fromarray(pattern).save(tmp_path / "o.png", exif=exif_bytes(orientation))
    image = read_image_file(tmp_path / "o.png")
    np.testing.assert_array_equal(image.pixels, EXPECTED[orientation](pattern))
    exif = Image.Exif()
    exif.load(image.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "ACME Cameras"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillows_exif_transpose(tmp_path, orientation):
    from PIL import ImageOps

    pattern = np.arange(H * W * 3, dtype=np.uint32).reshape(H, W, 3).astype(np.uint8)
    pattern[: H // 3, : W // 4] = 255  # not symmetric under any flip or rotation
    Image.fromarray(pattern).save(tmp_path / "o.png", exif=exif_bytes(orientation))
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(read_image_file(tmp_path / "o.png").pixels, expected)


@pytest.mark.parametrize("orientation", [6, 3])
def test_exif_orientation_applied_on_read_jpeg(tmp_path, orientation):
    pattern = quadrants()
    Image.fromarray(pattern).save(tmp_path / "o.jpg", exif=exif_bytes(orientation), quality=95)
    pixels = read_image_file(tmp_path / "o.jpg").pixels
    expected = EXPECTED[orientation](pattern)
    assert pixels.shape == expected.shape
    # Flat quadrants: JPEG error is tiny away from the colour edges, far below the 240 contrast.
    assert np.median(np.abs(pixels.astype(int) - expected)) <= 3
    if orientation == 6:  # 90 degrees clockwise: top left (red) goes to the top right
        assert tuple(pixels[2, -3].astype(int)) == pytest.approx((250, 10, 10), abs=12)
        assert tuple(pixels[-3, -3].astype(int)) == pytest.approx(
            (10, 250, 10), abs=12
        )  # was top right


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "tif"])
def test_written_exif_orientation_reset_other_tags_kept(tmp_path, ext):
    Image.fromarray(quadrants()).save(tmp_path / "src.png", exif=exif_bytes(6))
    image = read_image_file(tmp_path / "src.png")
    out = tmp_path / f"out.{ext}"
    write_image_file(out, image)
    with Image.open(out) as im:
        assert im.size == (H, W)  # rotated: width and height swapped
        exif = im.getexif()
    assert exif.get(0x0112) == 1
    assert exif.get(0x010F) == "ACME Cameras"
    # Reading the output again does not rotate a second time.
    assert read_image_file(out).pixels.shape[:2] == (W, H)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_icc_profile_survives(tmp_path, icc, ext):
    path = tmp_path / f"icc.{ext}"
    Image.fromarray(photo()).save(tmp_path / "src.png", icc_profile=icc)
    image = read_image_file(tmp_path / "src.png")
    assert image.icc == icc
    write_image_file(path, image)
    assert read_image_file(path).icc == icc
    with Image.open(path) as im:
        assert im.info.get("icc_profile") == icc


def test_no_metadata_stays_none(tmp_path):
    write_image_file(tmp_path / "a.png", ImageFile(photo()))
    image = read_image_file(tmp_path / "a.png")
    assert image.exif is None and image.icc is None


# ------------------------------------------------------------------------------------------------
# Bad files


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good_jpg, good_png = tmp_path / "good.jpg", tmp_path / "good.png"
    Image.fromarray(photo()).save(good_jpg, quality=90)
    Image.fromarray(photo()).save(good_png)
    files = {
        "empty.png": b"",
        "garbage.jpg": b"this is not an image at all" * 20,
        "cut.jpg": good_jpg.read_bytes()[: good_jpg.stat().st_size // 2],
        "cut.png": good_png.read_bytes()[: good_png.stat().st_size // 2],
        "cut_tail.png": good_png.read_bytes()[:-12],
    }  # only IEND missing
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    return out


@pytest.mark.parametrize(
    "name, words",
    [
        ("empty.png", "empty"),
        ("garbage.jpg", "not a supported"),
        ("cut.jpg", "truncated"),
        ("cut.png", "truncated"),
        ("cut_tail.png", "truncated"),
    ],
)
def test_bad_files_raise_naming_the_file(tmp_path, name, words):
    path = _bad_files(tmp_path)[name]
    with pytest.raises(ImageFileError) as info:
        read_image_file(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_data_after_a_complete_image_is_ignored(tmp_path):
    """A phone's motion photo (a video after the JPEG) and a PNG with bytes appended decode."""
    img = photo()
    Image.fromarray(img).save(tmp_path / "a.jpg", quality=95, progressive=True)
    Image.fromarray(img).save(tmp_path / "a.png")
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40 + b"\xff\xd8\xff"
    (tmp_path / "motion.jpg").write_bytes((tmp_path / "a.jpg").read_bytes() + video)
    (tmp_path / "extra.png").write_bytes((tmp_path / "a.png").read_bytes() + b"trailing" * 9)
    np.testing.assert_array_equal(
        read_image_file(tmp_path / "motion.jpg").pixels, read_image_file(tmp_path / "a.jpg").pixels
    )
    np.testing.assert_array_equal(read_image_file(tmp_path / "extra.png").pixels, img)


def test_jpeg_corrupted_in_the_middle_is_refused_naming_the_file(tmp_path, capfd):
    Image.fromarray(photo()).save(tmp_path / "a.jpg", quality=95)
    data = bytearray((tmp_path / "a.jpg").read_bytes())
    middle = len(data) // 2
    noise = np.random.default_rng(0).integers(0, 255, 300, dtype=np.uint8)  # no 0xFF: no markers
    data[middle : middle + 300] = noise.tobytes()
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    with pytest.raises(ImageFileError, match=r"bad\.jpg: corrupt image data \(Corrupt JPEG"):
        read_image_file(tmp_path / "bad.jpg")
    assert "Corrupt JPEG" not in capfd.readouterr().err  # said once, in our message


def test_decompression_bombs_are_refused_from_the_header_and_pillows_guard_is_kept(tmp_path):
    Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")  # 100 KB claiming 900 MP
    Image.new("L", (200, 100)).save(tmp_path / "small.png")
    guard = Image.MAX_IMAGE_PIXELS
    assert guard is not None  # importing restore left Pillow's own guard alone
    with pytest.raises(ImageFileError, match=r"bomb\.png: 30000x30000 = 900 megapixels"):
        read_image_file(tmp_path / "bomb.png")  # the default limit: 200 MP
    with pytest.raises(ImageFileError, match="above the limit of 0"):
        read_image_file(tmp_path / "small.png", max_pixels=19_999)
    assert Image.MAX_IMAGE_PIXELS == guard
    with pytest.raises(Image.DecompressionBombError), Image.open(tmp_path / "bomb.png"):
        pass  # the host program's own Image.open still refuses it
    for bad in (0, -1, float("nan"), "many"):
        with pytest.raises(ValueError, match="max_pixels"):
            read_image_file(tmp_path / "small.png", max_pixels=bad)


def test_float_tiff_size_is_checked_from_its_header(tmp_path):
    pixels = np.random.default_rng(0).random((40, 50, 3)).astype(np.float32)
    cv2.imwrite(str(tmp_path / "f.tif"), pixels)
    assert imagefile.tiff_size(tmp_path / "f.tif") == (50, 40)
    with pytest.raises(ImageFileError, match="50x40"):
        read_image_file(tmp_path / "f.tif", max_pixels=1999)
    assert read_image_file(tmp_path / "f.tif", max_pixels=2000).pixels.shape == (40, 50, 3)


def test_five_channel_tiff_is_one_line_naming_the_file(tmp_path, capfd):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "five.tif", np.zeros((8, 8, 5), np.uint8), photometric="rgb")
    capfd.readouterr()
    with pytest.raises(ImageFileError) as info:
        read_image_file(tmp_path / "five.tif")
    assert str(tmp_path / "five.tif") in str(info.value) and "\n" not in str(info.value)
    assert capfd.readouterr().err == ""  # OpenCV's own lines are not printed


def test_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(ImageFileError, match="nope.png"):
        read_image_file(tmp_path / "nope.png")


def test_max_pixels(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(photo()).save(path)
    assert read_image_file(path, max_pixels=H * W).pixels.shape == (H, W, 3)
    with pytest.raises(ImageFileError) as info:
        read_image_file(path, max_pixels=H * W - 1)
    message = str(info.value)
    assert str(path) in message and f"{W}x{H}" in message and "limit" in message


# ------------------------------------------------------------------------------------------------
# Failed writes leave nothing behind


def test_read_only_folder_raises(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user can write into read-only folders (root)")
        with pytest.raises(ImageFileError, match="cannot write"):
            write_image_file(folder / "a.png", ImageFile(photo()))
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("error", [OSError("disk full"), RuntimeError("boom")])
def test_failed_save_leaves_no_file(tmp_path, monkeypatch, error):
    def failing_save(tmp, *args, **kwargs):
        Path(tmp).write_bytes(b"half an image")  # the temporary file exists when it fails
        raise error

    monkeypatch.setattr(imagefile, "_save_pil", failing_save)
    expected = ImageFileError if isinstance(error, OSError) else RuntimeError
    with pytest.raises(expected) as info:
        write_image_file(tmp_path / "a.png", ImageFile(photo()))
    if expected is ImageFileError:
        assert "a.png" in str(info.value) and "disk full" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_existing_output(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    write_image_file(path, ImageFile(photo(seed=1)))
    before = path.read_bytes()

    def failing_save(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(imagefile, "_save_pil", failing_save)
    with pytest.raises(KeyboardInterrupt):
        write_image_file(path, ImageFile(photo(seed=2)))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


# --- CMYK and float TIFF ----------------------------------------------------------------------


def test_cmyk_tiff_reads_as_rgb_and_writes_a_file_pillow_opens(tmp_path):
    rgb = photo(3)
    src = tmp_path / "cmyk.tif"
    Image.fromarray(rgb).convert("CMYK").save(src)
    image = read_image_file(src)
    assert image.pixels.shape == rgb.shape and image.pixels.dtype == np.uint8
    # Pillow's naive CMYK round trip is exact up to rounding.
    assert np.abs(image.pixels.astype(int) - rgb).max() <= 2
    out = tmp_path / "out.tif"
    write_image_file(out, image)
    with Image.open(out) as back:
        assert back.mode == "RGB" and back.size == (rgb.shape[1], rgb.shape[0])


def test_cmyk_jpeg_profile_is_used_or_the_file_refused(tmp_path, icc):
    rgb = photo(3)
    src = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(src, quality=95, icc_profile=icc)  # an sRGB profile
    # An RGB profile on CMYK data cannot transform it: the file is refused with a clear message
    # rather than decoded wrongly.
    with pytest.raises(ImageFileError, match="cmyk.jpg"):
        read_image_file(src)
    plain = tmp_path / "plain.jpg"
    Image.fromarray(rgb).convert("CMYK").save(plain, quality=95)
    image = read_image_file(plain)
    assert image.icc is None and np.abs(image.pixels.astype(int) - rgb).mean() < 4


@pytest.mark.parametrize("channels", [1, 3])
def test_float32_tiff_round_trip_keeps_values_outside_unit_range(tmp_path, channels):
    rng = np.random.default_rng(3)
    shape = (24, 32) if channels == 1 else (24, 32, 3)
    pixels = (rng.random(shape, dtype=np.float32) * 3 - 0.5).astype(np.float32)  # HDR: -0.5 .. 2.5
    src = tmp_path / "hdr.tif"
    bgr = pixels if channels == 1 else pixels[:, :, ::-1]
    assert cv2.imwrite(str(src), np.ascontiguousarray(bgr))
    image = read_image_file(src)
    assert image.pixels.dtype == np.float32 and np.array_equal(image.pixels, pixels)
    out = tmp_path / "out.tif"
    write_image_file(out, image)
    assert np.array_equal(read_image_file(out).pixels, pixels)
    png = tmp_path / "out.png"  # other formats: clipped to [0, 1], 16 bits for PNG
    write_image_file(png, image)
    back = read_image_file(png).pixels
    assert back.dtype == np.uint16
    assert np.abs(back / 65535.0 - np.clip(pixels, 0, 1)).max() < 1e-4

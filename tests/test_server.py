"""``restore-ui``'s HTTP API (issue #26) on a real server on a free local port: denoising gains
PSNR, inpainting keeps the known pixels, bad uploads get a 4xx and one line, the server goes on
serving, concurrent requests each get their own result."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import hole, photo
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("python_multipart")

from server_helpers import decode, png, post, serving  # noqa: E402

from restore import Restorer  # noqa: E402
from restore.bench.protocol import psnr  # noqa: E402
from restore.models.weights import load_net  # noqa: E402
from restore.ui.server import Progress, RestoreService, build_parser, main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

CROP = Path(__file__).parent / "data" / "astronaut_crop.png"
MAX_PIXELS = 128 * 128
JSON = "application/json"


@pytest.fixture(scope="module")
def tiny(weights) -> Restorer:
    # built as restore-ui builds it: from the network, so no error names the server's files
    return Restorer(load_net(weights), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def url(tiny) -> str:
    with serving(RestoreService(tiny, max_bytes=200_000, max_pixels=MAX_PIXELS)) as base:
        yield f"{base}/api/restore"


def _ok(url: str, image: np.ndarray, **fields) -> np.ndarray:
    status, _, body = post(url, {"image": ("a.png", png(image))}, fields)
    assert status == 200, body
    return decode(body)


def test_denoising_gains_psnr():
    clean = np.asarray(Image.open(CROP).convert("RGB"))[:96, :96].copy()
    noise = np.random.default_rng(0).normal(0, 25, clean.shape)
    noisy = np.clip(np.round(clean + noise), 0, 255).astype(np.uint8)
    shipped = Restorer.from_pretrained(device="cpu", precision="fp32")
    with serving(RestoreService(shipped)) as base:
        status, headers, body = post(
            f"{base}/api/restore", {"image": ("noisy.png", png(noisy))}, {"task": "denoise"}
        )
        assert status == 200, body
        assert headers["Content-Type"] == "image/png"
        assert float(headers["X-Restore-Seconds"]) > 0
        assert psnr(decode(body), clean) > psnr(noisy, clean) + 3
        half = _ok(f"{base}/api/restore", noisy, strength="0.5")
        assert psnr(noisy, clean) < psnr(half, clean) < psnr(decode(body), clean)
        files = {"image": ("noisy.png", png(noisy))}
        status, _, body = post(f"{base}/api/restore", files, {"uncertainty": "true"}, JSON)
        picture = decode(base64.b64decode(json.loads(body)["uncertainty"]))
        assert status == 200 and picture.shape[1:] == (96, 3) and picture.shape[0] > 96


def test_inpainting_keeps_the_known_pixels(url, tiny):
    image, holes = photo(0), hole()
    files = {"image": ("a.png", png(image)), "mask": ("m.png", png(holes.astype(np.uint8) * 255))}
    status, headers, body = post(url, files, {"task": "inpaint"})
    assert status == 200, body
    out = decode(body)
    assert np.array_equal(out[~holes], image[~holes])
    assert np.array_equal(out, tiny.inpaint(image, holes))
    assert float(headers["X-Restore-Filled"]) == pytest.approx(holes.mean(), abs=1e-4)


def test_options_formats_and_json(url, tiny):
    image = photo(1)
    assert np.array_equal(_ok(url, image, strength="0"), image)
    told = post(url, {"image": ("a.png", png(image))}, {"noise_level": "25"})
    assert told[1]["X-Restore-Noise-Level"] == "25.00"
    assert np.array_equal(decode(told[2]), tiny.denoise(image, 25))
    status, headers, body = post(url, {"image": ("a.png", png(image))}, {"format": "jpeg"})
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    assert 'filename="a_restored.jpg"' in headers["Content-Disposition"]
    fields = {"samples": "2", "seed": "7"}
    status, _, body = post(url, {"image": ("a.png", png(image))}, fields, JSON)
    answer = json.loads(body)
    assert status == 200 and answer["media_type"] == "image/png" and len(answer["samples"]) == 2
    assert answer["seed"] == 7  # sample k's seed is 7 + k - 1: the second is sample(seed=8)
    second = decode(base64.b64decode(answer["samples"][1]))
    assert np.array_equal(second, tiny.sample(image, n=1, seed=8)[0])
    assert np.array_equal(decode(base64.b64decode(answer["image"])), tiny.denoise(image))
    assert answer["seconds"] > 0 and answer["filename"] == "a_restored.png"


def test_exif_orientation_is_applied(url):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise
    exif[0x010F] = "ACME Cameras"
    buffer = io.BytesIO()
    Image.fromarray(photo(2)).save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    status, headers, body = post(url, {"image": ("r.jpg", buffer.getvalue())})
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert decode(body).shape == (photo(2).shape[1], photo(2).shape[0], 3)
    kept = Image.open(io.BytesIO(body)).getexif()
    assert kept[0x010F] == "ACME Cameras" and kept[0x0112] == 1  # metadata kept, turned upright


def _truncated() -> bytes:
    data = png(photo(3))
    return data[: len(data) // 2]


BAD = [
    ({"image": ("notes.txt", b"hello, not an image")}, {}, 415, "notes.txt: not an image"),
    ({"image": ("cut.png", _truncated())}, {}, 400, "cut.png"),
    ({"image": ("big.bin", b"\x89PNG\r\n\x1a\n" + bytes(300_000))}, {}, 413, "--max-bytes"),
    ({"image": ("huge.png", png(np.zeros((200, 200), np.uint8)))}, {}, 413, "huge.png: 200x200"),
    (
        {"image": ("a.png", png(photo(0))), "mask": ("m.png", png(np.zeros((8, 8), np.uint8)))},
        {"task": "inpaint"},
        400,
        "m.png: mask is 8x8 but the image a.png is 96x64",
    ),
    ({"image": ("a.png", png(photo(0)))}, {"strength": "2"}, 400, "strength must be a number"),
    ({"image": ("a.png", png(photo(0)))}, {"strength": "lots"}, 400, "strength must be a number"),
    ({"image": ("a.png", png(photo(0)))}, {"samples": "1000"}, 400, "samples must be"),
    ({"image": ("a.png", png(photo(0)))}, {"noise_level": "-3"}, 400, "noise level must be"),
    ({"image": ("a.png", png(photo(0)))}, {"task": "sharpen"}, 400, "task must be one of"),
    ({"image": ("a.png", png(photo(0)))}, {"format": "gif"}, 400, "format must be"),
    ({"image": ("a.png", png(photo(0)))}, {"colour": "red"}, 400, "unknown field 'colour'"),
    ({"image": ("a.png", png(photo(0)))}, {"task": "inpaint"}, 400, "no hole mask"),
    ({"image": ("a.png", png(photo(0)))}, {"uncertainty": "maybe"}, 400, "true or false"),
    ({"image": ("a.png", png(photo(0)))}, {"uncertainty": "1"}, 400, "no uncertainty head"),
    ({"photo": ("a.png", png(photo(0)))}, {}, 400, "unknown field 'photo'"),
    ({}, {"task": "denoise"}, 400, "no image"),
    (
        {"image": ("a.png", png(photo(0))), "mask": ("m.png", png(hole().astype(np.uint8)))},
        {"task": "repair"},
        400,
        "repair finds the holes itself",
    ),
]


@pytest.mark.parametrize(("files", "fields", "status", "words"), BAD)
def test_bad_requests_get_a_4xx_line_and_the_server_goes_on(url, files, fields, status, words):
    got, headers, body = post(url, files, fields)
    text = body.decode()
    assert got == status, text
    assert words in text and text.count("\n") == 1, text
    assert "/tmp" not in text  # the upload's name, not the server's temporary file
    assert text.count(".png:") <= 1  # named once
    assert headers["Content-Type"].startswith("text/plain")
    assert _ok(url, photo(4)).shape == photo(4).shape  # the next request works


def test_a_body_that_is_not_a_form(url):
    request_body = json.dumps({"image": "x"}).encode()
    request = urllib.request.Request(
        url, data=request_body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 400 and b"no image" in err.value.read()


def test_other_sites_pages_are_refused(url):
    def origin_post(origin: str) -> int:
        request = urllib.request.Request(
            url, data=b"", headers={"Origin": origin, "Content-Type": "text/plain"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    assert origin_post("https://evil.example") == 403
    assert origin_post(url.removesuffix("/api/restore")) == 400  # this page: on to the form


def test_concurrent_requests_each_get_their_own_result(url, tiny):
    images = [photo(10 + k, 64 + 16 * k, 80) for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda image: _ok(url, image, task="denoise"), images))
    for image, result in zip(images, results, strict=True):
        assert np.array_equal(result, tiny.denoise(image))


def _progress(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/progress", timeout=30) as response:
        return json.loads(response.read())


def test_progress_counts_passes_and_tiles_and_puts_the_hook_back():
    progress, hook = Progress(), object()
    restorer = type("R", (), {"progress": hook})()
    assert progress.json() == {"running": False, "pass": 0, "done": 0, "total": 0, "seconds": 0}
    with progress.counting(restorer):
        assert restorer.progress == progress.tile
        assert progress.json()["running"] and progress.json()["pass"] == 0
        for done in (1, 2, 3, 1):  # a pass of 3 tiles, then the next pass's first
            restorer.progress(done, 3)
        now = progress.json()
        assert (now["running"], now["pass"], now["done"], now["total"]) == (True, 2, 1, 3)
        restorer.progress(1, 1)
    last = progress.json()
    assert (last["running"], last["pass"], last["done"], last["total"]) == (False, 3, 1, 1)
    assert restorer.progress is hook and last["seconds"] >= 0


def test_progress_answers_while_a_request_runs(weights):
    tiles = Restorer.from_checkpoint(
        weights, device="cpu", precision="fp32", tile=64, tile_overlap=16
    )
    calls = []
    tiles.progress = lambda done, total: calls.append(total)
    image = photo(7, 200, 240)
    tiles.denoise(image)
    total, tiles.progress = calls[-1], None
    with serving(RestoreService(tiles)) as base:
        assert _progress(base) == {"running": False, "pass": 0, "done": 0, "total": 0, "seconds": 0}
        fields = {"task": "denoise", "samples": "1"}  # two passes: the result and a sample
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                post, f"{base}/api/restore", {"image": ("a.png", png(image))}, fields
            )
            seen = []
            while not answer.done():  # a fast run may end before the first look: seen is empty
                seen.append(_progress(base))
                time.sleep(0.02)
            status, _, body = answer.result()
        last = _progress(base)
    assert status == 200, body
    assert (last["running"], last["pass"], last["done"], last["total"]) == (False, 2, total, total)
    running = [p for p in seen if p["running"]]
    assert all(set(p) == set(last) for p in seen)
    assert all(p["total"] in (0, total) and 0 <= p["done"] <= p["total"] for p in running)
    steps = [(p["pass"], p["done"]) for p in running]
    assert steps == sorted(steps) and all(p <= 2 for p, _ in steps)  # never backwards


def test_the_page_is_self_contained(url):
    with urllib.request.urlopen(url.removesuffix("/api/restore") + "/", timeout=30) as response:
        html = response.read().decode()
    assert "<canvas" in html and "api/restore" in html
    assert "<progress" in html and "api/progress" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere


def test_command_line_defaults_and_usage_errors(capsys, tmp_path):
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.weights, args.model) == ("127.0.0.1", 7860, None, None)
    for argv, words in (
        (["--port", "70000"], "--port must be in 0-65535"),
        (["--max-bytes", "0"], "--max-bytes must be a positive number"),
        (["--max-pixels", "-1"], "--max-pixels must be a positive number"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, b"junk"], ids=["missing", "corrupt"])
def test_bad_weights_are_one_line_naming_them(capsys, tmp_path, content):
    path = tmp_path / "model.pt"
    if content is not None:
        path.write_bytes(content)
    assert main(["--weights", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"restore-ui: error: cannot load the model: {path}: ")
    assert err.count("\n") == 1, err


@pytest.mark.parametrize(("kind", "media_type"), [("TIFF", "image/tiff"), ("WEBP", "image/webp")])
def test_the_input_format_is_kept(url, kind, media_type):
    buffer = io.BytesIO()
    Image.fromarray(photo(5)).save(
        buffer, format=kind, **({"lossless": True} if kind == "WEBP" else {})
    )
    status, headers, body = post(url, {"image": (f"a.{kind.lower()}", buffer.getvalue())})
    assert status == 200 and headers["Content-Type"] == media_type
    assert decode(body).shape == photo(5).shape


def test_a_tiff_gets_a_png_preview_for_the_page(url, tiny):
    deep = photo(6).astype(np.uint16) * 257
    buffer = io.BytesIO()
    Image.fromarray(deep[:, :, 0]).save(buffer, format="TIFF")  # 16-bit gray
    files = {"image": ("deep.tif", buffer.getvalue())}
    status, headers, body = post(url.replace("/api/restore", "/api/preview"), files)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert np.array_equal(decode(body), deep[:, :, 0])
    status, _, body = post(url, files, accept=JSON)
    answer = json.loads(body)
    assert status == 200 and answer["media_type"] == "image/tiff"
    restored = decode(base64.b64decode(answer["image"]))
    assert np.array_equal(decode(base64.b64decode(answer["preview"])), restored)
    status, _, body = post(url.replace("/api/restore", "/api/preview"), {"image": ("x", b"GIF8")})
    assert (
        status == 415
        and body.decode() == "x: not an image (PNG, JPEG, TIFF, BMP or WebP expected)\n"
    )

"""``restore-ui``: the page and the HTTP API, served by Starlette and uvicorn (the ``ui`` extra).

``POST /api/restore`` takes a multipart form: ``image`` (a PNG, JPEG, TIFF, BMP or WebP file),
``mask`` (optional, white = hole, the image's size), ``task`` (``auto``, ``denoise``,
``inpaint``, ``restore`` or ``repair``; ``auto``: inpaint with a mask, denoise without),
``strength`` (0-1), ``noise_level`` (``auto`` or grey levels 0-255), ``samples``, ``seed``,
``uncertainty`` (``true``: also the map of how sure the model is, JSON only) and ``format``
(``keep``: the input's, or ``png``, ``jpeg``, ``tiff``, ``webp``). It answers the restored image
(metadata kept), with ``X-Restore-Seconds``, ``X-Restore-Noise-Level`` (the level read when
denoising blind, or the one given; absent when neither is known) and ``X-Restore-Filled`` (the
share of the pixels filled) in the headers; with ``Accept: application/json`` it answers JSON
instead: the image, the samples, the damage found (``repair``) and the uncertainty picture in
base64, and those fields (and ``preview``, the result as a PNG, when it is a TIFF, which
browsers do not show). ``POST /api/preview`` (an ``image``) answers the image as ``restore``
reads it, as a PNG, for the page to show a TIFF. ``GET /api/progress`` answers how far the
request running now has come, as JSON (:meth:`Progress.json`). A bad request gets a 4xx status
and one line of text naming the problem; a request that another site's page makes (its
``Origin`` is not this server) is refused.

The work is :func:`restore.jobs.restore_file` and :func:`restore.jobs.write_result` on the
uploaded files, as ``restore-image`` does, with one model shared by all requests, one request at
a time.

Only the standard library is imported at start-up, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from restore.options import (
    BACKEND_HELP,
    BACKENDS,
    SERVER_MAX_BYTES,
    SERVER_MAX_PIXELS,
    SERVER_MAX_SAMPLES,
    check_number,
    parse_number,
)
from restore.shipped import add_model_options

FORMATS = {"png": ".png", "jpeg": ".jpg", "jpg": ".jpg", "tiff": ".tif", "webp": ".webp"}
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".tif": "image/tiff",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
}
BROWSER_SUFFIXES = (".png", ".jpg", ".bmp", ".webp")  # what browsers show (not TIFF)
FIELDS = (
    "image",
    "mask",
    "task",
    "strength",
    "noise_level",
    "samples",
    "seed",
    "uncertainty",
    "format",
)


class BadRequest(ValueError):
    """A request the server refuses: one line naming the problem, and its HTTP status.

    Args:
        message: the line the client gets.
        status: the HTTP status (4xx).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """An uploaded file: its bytes, the name it came with and its suffix (by its content).

    Attributes:
        data: the file's bytes.
        name: the client's file name (its last part, printable), for messages.
        suffix: ``.png``, ``.jpg``, ``.tif``, ``.bmp`` or ``.webp``.
    """

    data: bytes
    name: str
    suffix: str


@dataclass
class Answer:
    """What a request made: the restored image file and what the headers say.

    Attributes:
        image: the output file's bytes.
        suffix: its suffix (format).
        filename: the name to download it as.
        seconds: how long the restoration took (not counting the wait for earlier requests).
        noise_level: the level read (blind) or given, grey levels; None when neither is known.
        filled: the share of the pixels filled (holes given, or damage found); None: none.
        samples: the samples' files, as many as asked for.
        seed: the first sample's seed; sample ``k`` (from 1) has ``seed + k - 1``.
        found: ``repair``: the damage found, a PNG (white = filled); None for other tasks.
        uncertainty: the uncertainty picture, a PNG (``restore-image --uncertainty``'s: the map
            on top, its scale bar below); None unless asked for.
        preview: the restored image as a PNG when browsers show no ``suffix`` (TIFF); None
            otherwise.
    """

    image: bytes
    suffix: str
    filename: str
    seconds: float
    noise_level: float | None = None
    filled: float | None = None
    samples: list[bytes] = field(default_factory=list)
    seed: int = 0
    found: bytes | None = None
    uncertainty: bytes | None = None
    preview: bytes | None = None

    def headers(self) -> dict[str, str]:
        """``X-Restore-*`` and ``Content-Disposition``."""
        headers = {
            "X-Restore-Seconds": f"{self.seconds:.3f}",
            "Content-Disposition": f'attachment; filename="{self.filename}"',
        }
        if self.noise_level is not None:
            headers["X-Restore-Noise-Level"] = f"{self.noise_level:.2f}"
        if self.filled is not None:
            headers["X-Restore-Filled"] = f"{self.filled:.4f}"
        return headers

    def json(self) -> dict[str, Any]:
        """The JSON answer: the files in base64 and the headers' values."""

        def encoded(data: bytes | None) -> str | None:
            return None if data is None else base64.b64encode(data).decode("ascii")

        return {
            "image": encoded(self.image),
            "media_type": MEDIA_TYPES[self.suffix],
            "filename": self.filename,
            "seconds": round(self.seconds, 3),
            "noise_level": self.noise_level,
            "filled": self.filled,
            "samples": [encoded(s) for s in self.samples],
            "seed": self.seed,
            "found": encoded(self.found),
            "uncertainty": encoded(self.uncertainty),
            "preview": encoded(self.preview),
        }


class Progress:
    """How far the request running now has come, for ``GET /api/progress``: the restorer's
    ``progress`` hook writes it from the worker thread, the server reads it (a lock between).

    A request makes one or more passes over its image (the restoration, each sample, the
    uncertainty map, the noise level read; ``repair``: the damage found, then the fill), each
    of one or more tiles; how many passes is not known ahead, so they are counted as they come.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = False
        self._start = self._seconds = 0.0
        self._pass = self._done = self._total = 0

    @contextmanager
    def counting(self, restorer) -> Iterator[None]:
        """Count ``restorer``'s passes and tiles for the block (one request); its own hook is
        put back after."""
        with self._lock:
            self._running, self._start = True, time.monotonic()
            self._pass = self._done = self._total = 0
        previous, restorer.progress = restorer.progress, self.tile
        try:
            yield
        finally:
            restorer.progress = previous
            with self._lock:
                self._running, self._seconds = False, time.monotonic() - self._start

    def tile(self, done: int, total: int) -> None:
        """The restorer's hook: ``done`` of the pass's ``total`` tiles are done (1: a new
        pass)."""
        with self._lock:
            if done == 1:
                self._pass += 1
            self._done, self._total = done, total

    def json(self) -> dict[str, Any]:
        """``running`` (a request is being restored), ``pass`` (its passes begun so far, from 1),
        ``done`` and ``total`` (tiles of that pass; 0 and 0 before its first tile) and
        ``seconds`` (since it began). When none runs: the last one's final values (``pass``,
        ``done``, ``total`` 0 before the first request)."""
        with self._lock:
            seconds = time.monotonic() - self._start if self._running else self._seconds
            return {
                "running": self._running,
                "pass": self._pass,
                "done": self._done,
                "total": self._total,
                "seconds": round(seconds, 2),
            }


class RestoreService:
    """One model serving requests one at a time: checks a request's form, restores its image
    through :mod:`restore.jobs` in a temporary folder, and answers.

    Args:
        restorer: the :class:`restore.restorer.Restorer` shared by every request.
        max_bytes: uploaded files above this many bytes are refused (413).
        max_pixels: images and masks above this many pixels are refused from their header (413).
    """

    def __init__(
        self,
        restorer,
        max_bytes: int = SERVER_MAX_BYTES,
        max_pixels: int = SERVER_MAX_PIXELS,
    ) -> None:
        self.restorer = restorer
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.progress = Progress()
        self._lock = threading.Lock()

    def parse(self, form: Any) -> tuple[Upload, Upload | None, Any, str | None]:
        """A request's form (Starlette's ``FormData``), checked: ``(image, mask, options,
        suffix)``, the options a :class:`restore.jobs.JobOptions` and the suffix of the output
        format (None: the input's). :class:`BadRequest` names the first problem."""
        unknown = sorted(set(form.keys()) - set(FIELDS))
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        image = self._upload("image", form.get("image"))
        if image is None:
            raise BadRequest("no image: send the photo as the multipart field 'image'")
        mask = self._upload("mask", form.get("mask"))
        return (image, mask, *self._options(form, mask is not None))

    def _upload(self, name: str, part: Any) -> Upload | None:
        """The form's file ``name`` (a Starlette ``UploadFile``, or None when absent), checked:
        its size and that it is an image of a format ``restore`` reads."""
        from restore.io.listing import image_suffix

        if part is None:
            return None
        if isinstance(part, str):
            raise BadRequest(f"{name} must be a file upload, not a text field")
        if part.size is not None and part.size > self.max_bytes:
            raise BadRequest(self._too_many_bytes(name, part.size), 413)
        part.file.seek(0)
        data = part.file.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise BadRequest(self._too_many_bytes(name, len(data)), 413)
        label = _printable(Path(part.filename or name).name)[:100] or name
        if not data:
            raise BadRequest(f"{label}: empty file (0 bytes)")
        suffix = image_suffix(data[:16])
        if suffix is None:
            raise BadRequest(f"{label}: not an image (PNG, JPEG, TIFF, BMP or WebP expected)", 415)
        return Upload(data, label, suffix)

    def _too_many_bytes(self, name: str, size: int) -> str:
        return (
            f"{name} is {size} bytes, above the limit of {self.max_bytes} (restore-ui --max-bytes)"
        )

    def _options(self, form: Any, has_mask: bool) -> tuple[Any, str | None]:
        """The job options and output suffix of a form's text fields."""
        from restore.jobs import JobOptions

        task = _text(form, "task") or "auto"
        if task == "repair" and has_mask:
            raise BadRequest("repair finds the holes itself: leave out the mask")
        level = _text(form, "noise_level") or "auto"
        out_format = (_text(form, "format") or "keep").lower()
        if out_format != "keep" and out_format not in FORMATS:
            raise BadRequest(f"format must be keep, {', '.join(FORMATS)}, got {out_format!r}")
        try:
            samples = _number(form, "samples", 0, integer=True)
            check_number("samples", samples, 0, SERVER_MAX_SAMPLES, integer=True)
            options = JobOptions(
                task=task,
                sigma=None if level == "auto" else _number(form, "noise_level", None),
                samples=samples,
                seed=_number(form, "seed", 0, integer=True),
                uncertainty=_flag(form, "uncertainty"),
                strength=_number(form, "strength", 1.0),
                max_pixels=self.max_pixels,
            )
        except ValueError as err:  # BadRequest too: its status is 400
            raise BadRequest(str(err)) from None
        return options, None if out_format == "keep" else FORMATS[out_format]

    def run(self, image: Upload, mask: Upload | None, options, suffix: str | None) -> Answer:
        """Restore ``image`` (holes in ``mask``) as ``options`` say, into ``suffix``'s format
        (None: the input's); one call at a time. :class:`BadRequest` for an image or mask that
        cannot be used (unreadable, too large, sizes that differ)."""
        from restore.io.images import ImageFile, ImageFileError, write_image_file
        from restore.jobs import Job, restore_file, side_path, write_result

        suffix = suffix or image.suffix
        with tempfile.TemporaryDirectory(prefix="restore-ui-") as tmp:
            folder = Path(tmp)
            source = folder / f"image{image.suffix}"
            source.write_bytes(image.data)
            names = {str(source): image.name}
            job = Job(source, folder / "out" / f"restored{suffix}")
            if mask is not None:
                job.mask = folder / f"mask{mask.suffix}"
                job.mask.write_bytes(mask.data)
                names[str(job.mask)] = mask.name
            job.output.parent.mkdir()
            with self._lock, self.progress.counting(self.restorer), _refused(source, names):
                start = time.monotonic()
                result = restore_file(self.restorer, job, options)
                seconds = time.monotonic() - start
            try:
                write_result(result, options)
            except ImageFileError as err:  # e.g. a float TIFF asked for as WebP
                raise BadRequest(f"cannot write the result as {suffix}: {err}") from None
            restored, out = result.restored, job.output
            preview = None
            if suffix not in BROWSER_SUFFIXES:
                write_image_file(side_path(out, "preview", ".png"), ImageFile(restored.image))
                preview = side_path(out, "preview", ".png").read_bytes()
            return Answer(
                image=out.read_bytes(),
                suffix=suffix,
                filename=f"{Path(image.name).stem or 'image'}_restored{suffix}",
                seconds=seconds,
                noise_level=options.sigma if restored.noise_level is None else restored.noise_level,
                filled=None if restored.holes is None else float(restored.holes.mean()),
                samples=[
                    side_path(out, f"sample{k}").read_bytes()
                    for k in range(1, len(restored.samples) + 1)
                ],
                seed=options.seed,
                found=side_path(out, "mask", ".png").read_bytes()
                if options.task == "repair"
                else None,
                uncertainty=side_path(out, "uncertainty", ".png").read_bytes()
                if options.uncertainty
                else None,
                preview=preview,
            )

    def preview(self, image: Upload) -> bytes:
        """``image`` as a PNG that a browser shows (TIFF: none does), as ``restore`` reads it:
        EXIF orientation applied, 16 bits kept, float pixels clipped to [0, 1]."""
        from restore.io.images import ImageFile, read_image_file, write_image_file

        with tempfile.TemporaryDirectory(prefix="restore-ui-") as tmp:
            source = Path(tmp) / f"image{image.suffix}"
            source.write_bytes(image.data)
            with _refused(source, {str(source): image.name}):
                pixels = read_image_file(source, self.max_pixels).pixels
            write_image_file(source.with_suffix(".png"), ImageFile(pixels))
            return source.with_suffix(".png").read_bytes()


@contextmanager
def _refused(source: Path, names: dict[str, str]) -> Iterator[None]:
    """Errors of the block that the request's files caused (unreadable, too large, sizes that
    differ, out of memory) raised as :class:`BadRequest`, naming the uploads (``names``: their
    temporary paths -> their names) instead of the temporary files."""
    from restore.errors import failure_message, is_out_of_memory
    from restore.io.images import ImageTooLargeError

    try:
        yield
    except (ValueError, MemoryError, RuntimeError) as err:
        if not isinstance(err, ValueError) and not is_out_of_memory(err):
            raise
        message = failure_message(source, err)  # names the image, or the mask
        for path, name in names.items():
            message = message.replace(path, name)
        status = 413 if isinstance(err, ImageTooLargeError) else 400
        raise BadRequest(message, 507 if is_out_of_memory(err) else status) from None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a text field, not a file")
    return value.strip()


def _flag(form: Any, name: str) -> bool:
    """The form's field ``name`` as a yes or no (absent: no)."""
    text = (_text(form, name) or "false").lower()
    if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise BadRequest(f"{name} must be true or false, got {_printable(text)[:40]!r}")
    return text in ("true", "1", "yes", "on")


def _number(form: Any, name: str, default: Any, integer: bool = False) -> Any:
    """The form's field ``name`` as a float, or an int when ``integer`` (``default`` when absent
    or empty); ``ValueError`` (:func:`restore.options.parse_number`) when it is not one."""
    text = _text(form, name)
    return parse_number(name, text, integer) if text else default


def page() -> str:
    """The page: one self-contained HTML file (inline script and style)."""
    return files("restore.ui").joinpath("page.html").read_text(encoding="utf-8")


def create_app(service: RestoreService):
    """The Starlette app: ``GET /`` (the page), ``POST /api/restore`` (module docstring),
    ``POST /api/preview`` (an image as a PNG the browser shows: :meth:`RestoreService.preview`)
    and ``GET /api/progress`` (:meth:`Progress.json`; it answers while a request runs, the work
    being in a worker thread)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    html = page()

    async def index(request) -> HTMLResponse:
        return HTMLResponse(html)

    async def form(request):
        """The request's multipart form, after the checks that need no reading of it."""
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            # another site's page in the user's browser posting to this local server
            raise BadRequest(f"requests from other sites are refused ({origin})", 403)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > 2 * service.max_bytes + 2**20:
            raise BadRequest(f"request of {length} bytes is above the limit", 413)
        try:
            return await request.form(max_files=2, max_fields=len(FIELDS))
        except HTTPException as err:
            raise BadRequest(f"not a multipart form ({err.detail})", err.status_code) from None

    async def restore(request) -> Response:
        try:
            image, mask, options, suffix = service.parse(await form(request))
            answer = await run_in_threadpool(service.run, image, mask, options, suffix)
        except BadRequest as err:
            return PlainTextResponse(f"{err}\n", status_code=err.status)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(answer.json(), headers=answer.headers())
        media_type = MEDIA_TYPES[answer.suffix]
        return Response(answer.image, media_type=media_type, headers=answer.headers())

    async def preview(request) -> Response:
        try:
            image = service.parse(await form(request))[0]
            data = await run_in_threadpool(service.preview, image)
        except BadRequest as err:
            return PlainTextResponse(f"{err}\n", status_code=err.status)
        return Response(data, media_type="image/png")

    async def progress(request) -> JSONResponse:
        return JSONResponse(service.progress.json(), headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/restore", restore, methods=["POST"]),
            Route("/api/preview", preview, methods=["POST"]),
            Route("/api/progress", progress),
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="restore-ui",
        description="Serve a page (open a photo, paint the holes, run, compare, download) and "
        "the HTTP API POST /api/restore on this machine. Nothing is fetched from the internet.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_model_options(p)
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help=BACKEND_HELP)
    p.add_argument(
        "--max-pixels",
        type=float,
        default=SERVER_MAX_PIXELS,
        metavar="N",
        help=f"refuse images above this many pixels (default {SERVER_MAX_PIXELS:.0e})",
    )
    p.add_argument(
        "--max-bytes",
        type=int,
        default=SERVER_MAX_BYTES,
        metavar="N",
        help=f"refuse uploaded files above this many bytes (default {SERVER_MAX_BYTES})",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: load the model, then serve until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in 0-65535, got {args.port}")
    if args.max_bytes < 1:
        parser.error(f"--max-bytes must be a positive number, got {args.max_bytes}")
    from restore.io.images import check_max_pixels

    try:
        max_pixels = check_max_pixels(args.max_pixels)
    except ValueError:
        parser.error(f"--max-pixels must be a positive number, got {args.max_pixels}")
    missing = [m for m in ("starlette", "uvicorn", "python_multipart") if find_spec(m) is None]
    if missing:
        print(
            f"restore-ui: error: {missing[0]} is missing: pip install -e '.[ui]'", file=sys.stderr
        )
        return 1
    import uvicorn

    from restore.models.weights import load_model
    from restore.restorer import Restorer

    try:
        net, _ = load_model(args.weights, args.model)
        restorer = Restorer(net, device=args.device, max_pixels=max_pixels, backend=args.backend)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"restore-ui: error: cannot load the model: {err}", file=sys.stderr)
        return 1
    app = create_app(RestoreService(restorer, args.max_bytes, max_pixels))
    print(f"restore-ui: open http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def main_exit() -> None:
    """Console script: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()

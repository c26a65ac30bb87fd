"""``restore-bench profile``: where the time of each ``Restorer`` task goes, stage by stage.

    restore-bench profile                                  # shipped model, a 1-megapixel photo
    restore-bench profile --megapixels 24 --repeats 3 --json runs/profile.json
    restore-bench profile --tasks denoise-s25 inpaint-40 --precision fp32

Each task (:data:`TASKS`; by default :data:`DEFAULT_TASKS`) runs ``--repeats`` times on one
synthetic photo (:func:`restore.bench.speed.synthetic_photo`; ``repair`` on the same photo with
synthetic scratches) and its fastest run is kept. That run's wall-clock time is split into stages
(:func:`stage_timing`): each top-level part of the network (``stem``, ``enc``, ``dec``, ...,
timed by forward hooks, every call summed), the hole pre-fill (``fill_holes``), the texture stage
(``texture``), the input preparation (``inputs``: ``Restorer.network_inputs``, the mirrored
border), the conversions to and from a batch (``conversions``) and ``other``: the rest (tiling,
blending the tiles, masks, Python). A stage's time is its own (the stages it calls are not in
it), so the stages and ``other`` add up to the total.

Prints the CPU, then a Markdown table of seconds per megapixel of the photo, with the network's
passes over the image, its forwards (tiles), the tiling overlap (pixels through the network over
the pixels of its input, per pass: 1 when the image fits one tile) and all the pixels through the
network over the photo's (border and every pass included). ``--json PATH`` writes the raw seconds.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import math
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import restore.restorer as restorer_module
from restore.bench.reports import markdown_table
from restore.bench.speed import synthetic_photo
from restore.models.heads import HEADS, has_head
from restore.precision import cpu_has_native_bf16
from restore.shipped import add_model_options
from restore.tiling import tile_description

# The stages outside the network, after its top-level parts: the function each one times is in
# stage_timing.
STAGES = ("fill_holes", "texture", "inputs", "conversions")


class StageTimer:
    """Wall-clock seconds by stage (:func:`time.perf_counter`), each stage's own: while a stage
    runs inside another, the outer one's clock stops.

    Args:
        seconds: stage name -> seconds, added to in place.
    """

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._stack: list[str] = []
        self._mark = 0.0

    def start(self, stage: str) -> None:
        """Stage ``stage`` begins (the one running, if any, pauses)."""
        now = time.perf_counter()
        if self._stack:
            outer = self._stack[-1]
            self.seconds[outer] = self.seconds.get(outer, 0.0) + now - self._mark
        self._stack.append(stage)
        self._mark = now

    def stop(self) -> None:
        """The last stage begun ends (the one it paused, if any, resumes)."""
        now = time.perf_counter()
        stage = self._stack.pop()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._mark
        self._mark = now

    def timed(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` wrapped so that its calls count as ``stage``."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.start(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stop()

        return wrapper


@dataclass
class Profile:
    """What one profiled call spent.

    Attributes:
        stages: stage -> its own seconds (:func:`stage_names`; 0 where it did not run).
        seconds: the call's wall-clock seconds.
        passes: the network's passes over the image (calls of :func:`restore.tiling.tiled`).
        tiles: the network's forwards (tiles of every pass).
        network_pixels: the pixels through the network (tile areas, batch included), summed.
        input_pixels: the pixels of the network's input (the image with its mirrored border,
            padded to the stride) of every pass, summed.
    """

    stages: dict[str, float]
    seconds: float = 0.0
    passes: int = 0
    tiles: int = 0
    network_pixels: int = 0
    input_pixels: int = 0

    @property
    def other(self) -> float:
        """Seconds in no named stage: tiling, blending, masks, Python."""
        return self.seconds - sum(self.stages.values())

    @property
    def overlap(self) -> float:
        """Tiling overlap: network pixels over input pixels (1 when each pass is one tile; NaN
        without a pass)."""
        return self.network_pixels / self.input_pixels if self.input_pixels else math.nan


def stage_names(net: nn.Module) -> list[str]:
    """The stages a profile of ``net`` reports: its top-level parts in order, then
    :data:`STAGES`."""
    return [name for name, _ in net.named_children()] + list(STAGES)


def callable_parts(module: nn.Module) -> Iterator[nn.Module]:
    """``module``, or for a container without a forward of its own (``ModuleList``,
    ``ModuleDict``) the modules in it, recursively: what forward hooks can time."""
    if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
        for child in module.children():
            yield from callable_parts(child)
    else:
        yield module


@contextmanager
def replaced(owner: Any, name: str, wrap: Callable[[Any], Any]) -> Iterator[None]:
    """``owner.name`` is ``wrap(owner.name)`` for the duration, and as it was afterwards (an
    attribute the object did not hold itself, such as a method, is deleted again)."""
    own = vars(owner)
    had, old = name in own, own.get(name)
    setattr(owner, name, wrap(getattr(owner, name)))
    try:
        yield
    finally:
        if had:
            setattr(owner, name, old)
        else:
            delattr(owner, name)


@contextmanager
def hooked(module: nn.Module, timer: StageTimer, stage: str) -> Iterator[None]:
    """``module``'s forwards count as ``stage`` for the duration (forward pre- and post-hooks,
    removed afterwards)."""
    handles = [
        module.register_forward_pre_hook(lambda *_: timer.start(stage)),
        module.register_forward_hook(lambda *_: timer.stop(), always_call=True),
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def stage_timing(restorer: restorer_module.Restorer) -> Iterator[Profile]:
    """Time ``restorer``'s calls by stage for the duration, into the :class:`Profile` yielded
    (its ``seconds`` are the caller's to set: :func:`profile_call`).

    Hooks the network's top-level parts, wraps ``net.fill_holes``, ``restorer.network_inputs``
    and :mod:`restore.restorer`'s ``texture_fill``, ``to_batch``, ``from_batch`` and ``tiled``
    (counting the passes, and the tiles given to the network in each). Afterwards the
    restorer, its network and :mod:`restore.restorer` are as they were. Not thread-safe: other
    ``Restorer`` calls in the process at the same time would be counted too.
    """
    net = restorer.net
    profile = Profile(dict.fromkeys(stage_names(net), 0.0))
    timer = StageTimer(profile.stages)

    def count_passes(tiled: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(tiled)

        def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
            def tile(images: Tensor, *args: Any) -> Any:
                profile.tiles += 1
                profile.network_pixels += math.prod(images.shape) // images.shape[1]
                return fn(images, *args)

            return tile

        @functools.wraps(tiled)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            images, multiple = bound.arguments["images"], bound.arguments["multiple"]
            batch, _, height, width = images.shape
            profile.passes += 1
            profile.input_pixels += (
                batch * -(-height // multiple) * multiple * -(-width // multiple) * multiple
            )
            bound.arguments["fn"] = counted(bound.arguments["fn"])
            return tiled(*bound.args, **bound.kwargs)

        return wrapper

    with ExitStack() as stack:
        for name, child in net.named_children():
            for module in callable_parts(child):
                stack.enter_context(hooked(module, timer, name))
        stack.enter_context(
            replaced(net, "fill_holes", functools.partial(timer.timed, "fill_holes"))
        )
        stack.enter_context(
            replaced(restorer, "network_inputs", functools.partial(timer.timed, "inputs"))
        )
        for name, stage in (
            ("texture_fill", "texture"),
            ("to_batch", "conversions"),
            ("from_batch", "conversions"),
        ):
            stack.enter_context(
                replaced(restorer_module, name, functools.partial(timer.timed, stage))
            )
        stack.enter_context(replaced(restorer_module, "tiled", count_passes))
        yield profile


def profile_call(restorer: restorer_module.Restorer, call: Callable[[], Any]) -> Profile:
    """The :class:`Profile` of one ``call()`` of ``restorer``'s methods."""
    with stage_timing(restorer) as profile:
        start = time.perf_counter()
        call()
        profile.seconds = time.perf_counter() - start
    return profile


def box_hole(height: int, width: int, fraction: float) -> np.ndarray:
    """Bool ``(H, W)``: one centred box of the image's shape over ``fraction`` of its pixels."""
    side = math.sqrt(fraction)
    h, w = round(height * side), round(width * side)
    top, left = (height - h) // 2, (width - w) // 2
    hole = np.zeros((height, width), bool)
    hole[top : top + h, left : left + w] = True
    return hole


def scratched(photo: np.ndarray) -> np.ndarray:
    """``photo`` (8-bit ``(H, W, 3)``) with synthetic scratches
    (:func:`restore.corruption.damaged_photo`, seed 0), for ``repair``."""
    from restore.corruption import damaged_photo

    return damaged_photo(photo, "scratches", seed=0)[0]


@dataclass(frozen=True)
class Task:
    """One profiled ``Restorer`` task.

    Attributes:
        description: what it does, for the help.
        inputs: ``inputs(photo) -> args``: what it runs on, made before the timed calls.
        run: ``run(restorer, *args)``: the timed call.
        head: the optional part of the network it needs (a key of
            :data:`restore.models.heads.HEADS`); None: none.
    """

    description: str
    inputs: Callable[[np.ndarray], tuple]
    run: Callable[..., Any]
    head: str | None = None


def _photo(photo: np.ndarray) -> tuple:
    return (photo,)


def _with_hole(fraction: float) -> Callable[[np.ndarray], tuple]:
    return lambda photo: (photo, box_hole(*photo.shape[:2], fraction))


TASKS = {
    "denoise-s25": Task("denoise, told sigma 25", _photo, lambda r, x: r.denoise(x, sigma=25)),
    "denoise-blind": Task("denoise blind", _photo, lambda r, x: r.denoise(x)),
    "inpaint-10": Task("inpaint a hole of 10 %", _with_hole(0.1), lambda r, x, m: r.inpaint(x, m)),
    "inpaint-40": Task("inpaint a hole of 40 %", _with_hole(0.4), lambda r, x, m: r.inpaint(x, m)),
    "restore": Task(
        "denoise blind and fill a hole of 10 %", _with_hole(0.1), lambda r, x, m: r.restore(x, m)
    ),
    "repair": Task(
        "find and fill scratches (restore-image --auto-mask)",
        lambda photo: (scratched(photo),),
        lambda r, x: r.repair(x),
        "damage",
    ),
    "uncertainty": Task(
        "uncertainty map, blind", _photo, lambda r, x: r.uncertainty(x), "uncertainty"
    ),
    "samples": Task(
        "2 samples, a hole of 10 %, blind",
        _with_hole(0.1),
        lambda r, x, m: r.sample(x, m, n=2, seed=0),
    ),
    "estimate-noise": Task("noise level map", _photo, lambda r, x: r.estimate_noise(x), "noise"),
    "detect-damage": Task(
        "damage probability map", _photo, lambda r, x: r.detect_damage(x), "damage"
    ),
}
DEFAULT_TASKS = (
    "denoise-s25",
    "denoise-blind",
    "inpaint-10",
    "inpaint-40",
    "restore",
    "repair",
    "uncertainty",
    "samples",
)


def profile_tasks(
    restorer: restorer_module.Restorer,
    photo: np.ndarray,
    tasks: Sequence[str] = DEFAULT_TASKS,
    repeats: int = 2,
) -> dict[str, list[Profile] | str]:
    """Task name (of :data:`TASKS`) -> the :class:`Profile` of each of ``repeats`` runs on
    ``photo`` (8-bit ``(H, W, 3)``), or why it was skipped (the network lacks the part it
    needs)."""
    results: dict[str, list[Profile] | str] = {}
    for name in tasks:
        task = TASKS[name]
        if task.head is not None and not has_head(restorer.net, task.head):
            results[name] = f"the network has no {HEADS[task.head].name}"
            continue
        args = task.inputs(photo)
        results[name] = [
            profile_call(restorer, lambda task=task, args=args: task.run(restorer, *args))
            for _ in range(repeats)
        ]
    return results


def cpu_description() -> dict[str, Any]:
    """The CPU: its model name (``/proc/cpuinfo``, else :func:`platform.processor`), torch's
    threads, torch's CPU capability (``AVX2``, ``AVX512``, ...) and whether it computes in bf16
    natively (:func:`restore.precision.cpu_has_native_bf16`, what ``precision="auto"`` follows)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.split(":")[0].strip() == "model name":
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "model": model or platform.processor() or platform.machine() or "unknown",
        "threads": torch.get_num_threads(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": cpu_has_native_bf16(),
    }


PRECISION_NAMES = {None: "fp32", torch.bfloat16: "bf16"}


def report(
    results: dict[str, list[Profile] | str], image_pixels: int, stages: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """The Markdown table of ``results`` (:func:`profile_tasks`; each task's fastest run) in
    seconds per megapixel of an image of ``image_pixels``, with the ``stages`` that ran in any
    task, and the raw numbers by task (seconds; a skipped task: ``{"skipped": why}``)."""
    best = {
        name: min(runs, key=lambda p: p.seconds)
        for name, runs in results.items()
        if not isinstance(runs, str)
    }
    shown = [s for s in stages if any(p.stages.get(s, 0.0) > 0 for p in best.values())]
    megapixels = image_pixels / 1e6
    header = [
        "task",
        "total s/MP",
        *shown,
        "other",
        "passes",
        "tiles",
        "overlap",
        "net px / image px",
    ]
    rows = [
        [
            name,
            f"{p.seconds / megapixels:.3f}",
            *(f"{p.stages[s] / megapixels:.3f}" for s in shown),
            f"{p.other / megapixels:.3f}",
            p.passes,
            p.tiles,
            f"{p.overlap:.2f}",
            f"{p.network_pixels / image_pixels:.2f}",
        ]
        for name, p in best.items()
    ]
    raw: dict[str, Any] = {}
    for name, runs in results.items():
        if isinstance(runs, str):
            raw[name] = {"skipped": runs}
            continue
        p = best[name]
        raw[name] = {
            **asdict(p),
            "other": p.other,
            "overlap": p.overlap if p.input_pixels else None,
            "runs_seconds": [run.seconds for run in runs],
        }
    return markdown_table(header, rows, "l" + "r" * (len(header) - 1)), raw


def main(argv: Sequence[str] | None = None) -> int:
    """``restore-bench profile ...``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="restore-bench profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--megapixels", type=float, default=1.0, help="photo size (default 1)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each task, the fastest kept (default 2)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=list(TASKS),
        default=list(DEFAULT_TASKS),
        metavar="TASK",
        # argparse formats help with %: the descriptions' "10 %" are escaped
        help="; ".join(f"{k}: {t.description}" for k, t in TASKS.items()).replace("%", "%%")
        + f" (default: {' '.join(DEFAULT_TASKS)})",
    )
    parser.add_argument("--tile", type=int, help="tile size (default: Restorer's)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    add_model_options(parser)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw numbers here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if not args.megapixels > 0:
        parser.error(f"--megapixels must be above 0, got {args.megapixels}")

    from restore.bench.common import load_restorer

    loaded = load_restorer(args, precision=args.precision, tile=args.tile, backend="torch")
    if loaded is None:
        return 2
    restorer, source = loaded
    photo = synthetic_photo(args.megapixels)
    height, width = photo.shape[:2]
    results = profile_tasks(restorer, photo, args.tasks, args.repeats)
    table, raw = report(results, height * width, stage_names(restorer.net))
    cpu = cpu_description()
    precision = PRECISION_NAMES[restorer.autocast_dtype]
    print(
        f"CPU: {cpu['model']}; {cpu['threads']} torch threads; torch CPU capability "
        f"{cpu['capability']}; native bf16: {'yes' if cpu['native_bf16'] else 'no'}. "
        f"{source}, {precision}, photo {width}x{height} ({height * width / 1e6:.2f} MP), tile "
        f"{tile_description(restorer.tile, restorer.tile_overlap)}, "
        f"fastest of {args.repeats}; "
        f"seconds per megapixel:\n"
    )
    print(table)
    for name, runs in results.items():
        if isinstance(runs, str):
            print(f"\nskipped {name}: {runs}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "cpu": cpu,
            "model": source,
            "precision": precision,
            "image": {"width": width, "height": height},
            "tile": restorer.tile,
            "tile_overlap": restorer.tile_overlap,
            "repeats": args.repeats,
            "tasks": raw,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0

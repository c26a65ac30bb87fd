"""Save and load trained networks without the training code's config tree.

The export is a ``torch.save`` dict of plain types and tensors, so it loads with
``torch.load(weights_only=True)``: ``{"format": "restore-vae", "version": 1, "config": {...},
"state_dict": {...}}``. The recognition network ``q(z | x, y)`` is only needed for training and is
left out. :func:`load_net` also reads Lightning checkpoints and ``restore-train`` run folders, and
with no path one of the models shipped inside the package
(:data:`restore.shipped.SHIPPED_MODELS`); :func:`load_model` is what every front end loads with.
"""

from __future__ import annotations

import inspect
import math
import pickle
from importlib import resources
from pathlib import Path

import torch

from restore.io.atomic import atomic_path
from restore.models.calibration import (
    DAMAGE_THRESHOLD_KEY,
    UncertaintyCalibration,
    check_damage_threshold,
)
from restore.models.calibration import KEYS as CALIBRATION_KEYS
from restore.models.heads import HEADS
from restore.models.narrow import can_narrow, narrow_state
from restore.models.vae import HOLE_FILLS, RestorationVAE
from restore.options import is_integer
from restore.shipped import DEFAULT_MODEL, SHIPPED_MODELS, shipped_file

FORMAT = "restore-vae"
VERSION = 1
EXPORT_NAME = "model.pt"
TRAINING_ONLY = ("posterior_net.", "posterior.")


def _inference_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith(TRAINING_ONLY)}


def saved_config(net: RestorationVAE) -> dict:
    """The config a weights file or checkpoint stores for ``net``: its network settings, with
    the uncertainty calibration and the damage threshold when it has those heads."""
    config = dict(net.config)
    if net.scale_head is not None:
        config.update(net.calibration.to_config())
    if net.damage_head is not None:
        config[DAMAGE_THRESHOLD_KEY] = float(net.damage_threshold)
    return config


def export_weights(
    net: RestorationVAE, path: str | Path, dtype: torch.dtype = torch.float32
) -> Path:
    """Write ``net``'s inference weights and config (with the uncertainty calibration, when it has
    the head) to ``path``.

    ``dtype=torch.float16`` halves the file (the shipped default model); weights load back as
    float32 either way.
    """
    path = Path(path)
    state = {k: v.detach().to(dtype).contiguous().cpu() for k, v in net.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": saved_config(net),
        "state_dict": _inference_state(state),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


# What a weights file's config may ask for: the network is built from it, so a hostile file must
# not be able to make the tool allocate the machine's memory (the shipped models: 2-4 M values).
_LIMITS = {"levels": 6, "width": 1024, "blocks": 32, "latent_channels": 256, "unshuffle": 8}
MAX_PARAMETERS = 100_000_000
_FLAGS = tuple(part.flag for part in HEADS.values())
_SCALES = CALIBRATION_KEYS


def check_config(config: object, source: Path) -> dict:
    """The network config of a weights file, checked against bounds before anything is built;
    ``ValueError`` naming the file and the first value out of bounds."""

    def bad(what: str) -> ValueError:
        return ValueError(f"{source}: not a usable restore model config ({what})")

    if not isinstance(config, dict):
        raise bad("no config")
    known = {
        "image_channels",
        "widths",
        "blocks",
        "latent_channels",
        "unshuffle",
        "posterior_width",
        "hole_fill",
        *_FLAGS,
        *_SCALES,
        DAMAGE_THRESHOLD_KEY,
    }
    unknown = sorted(str(k) for k in config if k not in known)
    if unknown:
        raise bad(f"unknown setting {unknown[0]!r}")
    widths, blocks = config.get("widths", [64, 96, 128]), config.get("blocks", [1, 1, 2])
    if not isinstance(widths, list) or not 1 <= len(widths) <= _LIMITS["levels"]:
        raise bad(f"widths {widths!r}")
    if not all(is_integer(w) and 1 <= w <= _LIMITS["width"] for w in widths):
        raise bad(f"widths {widths!r} (each 1-{_LIMITS['width']})")
    if not isinstance(blocks, list) or len(blocks) != len(widths):
        raise bad(f"blocks {blocks!r}")
    if not all(is_integer(b) and 0 <= b <= _LIMITS["blocks"] for b in blocks):
        raise bad(f"blocks {blocks!r} (each 0-{_LIMITS['blocks']})")
    for key, low in (("latent_channels", 1), ("unshuffle", 1)):
        if key in config and not (is_integer(config[key]) and low <= config[key] <= _LIMITS[key]):
            raise bad(f"{key} {config[key]!r}")
    if config.get("image_channels", 3) not in (1, 3) or isinstance(
        config.get("image_channels"), bool
    ):
        raise bad(f"image_channels {config.get('image_channels')!r}")
    width = config.get("posterior_width", 0.5)
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
        raise bad(f"posterior_width {width!r}")
    if config.get("hole_fill", "zero") not in HOLE_FILLS:
        raise bad(f"hole_fill {config.get('hole_fill')!r}")
    for key in _FLAGS:
        if key in config and not isinstance(config[key], bool):
            raise bad(f"{key} {config[key]!r}")
    for key in _SCALES:
        value = config.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"{key} {value!r}")
    try:
        UncertaintyCalibration.from_config(config)  # its ranges
    except ValueError:
        raise bad(", ".join(f"{k} {config[k]!r}" for k in _SCALES if k in config)) from None
    if DAMAGE_THRESHOLD_KEY in config:
        try:
            check_damage_threshold(config[DAMAGE_THRESHOLD_KEY])
        except ValueError:
            raise bad(f"{DAMAGE_THRESHOLD_KEY} {config[DAMAGE_THRESHOLD_KEY]!r}") from None
    return config


def _build(config: dict, state: dict[str, torch.Tensor], source: Path) -> RestorationVAE:
    """The network of a weight file: the config checked, the calibration split off it, the
    shapes checked before anything is allocated."""
    config = check_config(config, source)
    calibration = UncertaintyCalibration.from_config(config)
    threshold = config.get(DAMAGE_THRESHOLD_KEY)
    config = {k: v for k, v in config.items() if k not in (*CALIBRATION_KEYS, DAMAGE_THRESHOLD_KEY)}
    try:
        with torch.device("meta"):  # the shapes first, without allocating anything
            shapes = {k: tuple(v.shape) for k, v in RestorationVAE(**config).state_dict().items()}
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: not a usable restore model config ({err})") from err
    shapes = _inference_state(shapes)
    count = sum(math.prod(shape) for shape in shapes.values())
    if count > MAX_PARAMETERS:
        raise ValueError(f"{source}: its config asks for {count / 1e6:.0f} M values (too large)")
    state = _inference_state(state)
    for key, shape in shapes.items():
        if key not in state:
            raise ValueError(f"{source}: weights do not match the model config (missing {key})")
        if not isinstance(state[key], torch.Tensor) or tuple(state[key].shape) != shape:
            found = getattr(state[key], "shape", type(state[key]).__name__)
            raise ValueError(
                f"{source}: weights do not match the model config ({key} is {tuple(found)} in "
                f"the file, {shape} for its config)"
            )
    unexpected = sorted(set(state) - set(shapes))
    if unexpected:
        raise ValueError(
            f"{source}: weights do not match the model config (unexpected {unexpected[0]})"
        )
    net = RestorationVAE(**config)
    net.load_state_dict(state, strict=False)
    net.calibration = calibration
    if threshold is not None:
        net.damage_threshold = float(threshold)
    return net.eval()


def _find_in_run_folder(folder: Path, prefer_checkpoint: bool = False) -> Path:
    """The export of a run folder, else its best (or last) checkpoint; checkpoints first when
    ``prefer_checkpoint`` (they also hold the recognition network, which fine-tuning needs)."""
    exports = [c for c in (folder / "export" / EXPORT_NAME, folder / EXPORT_NAME) if c.is_file()]
    ckpts = sorted((folder / "checkpoints").glob("best*.ckpt")) or sorted(
        (folder / "checkpoints").glob("*.ckpt")
    )
    found = ckpts[-1:] + exports if prefer_checkpoint else exports + ckpts[-1:]
    if found:
        return found[0]
    raise FileNotFoundError(
        f"{folder}: no export/{EXPORT_NAME} or checkpoints/*.ckpt in this run folder"
    )


def _read_weights(
    path: str | Path, map_location: str | torch.device, prefer_checkpoint: bool = False
) -> tuple[dict, dict, Path]:
    """``(config, state_dict, file)`` of an export file, Lightning checkpoint or run folder, or of
    a shipped model by name when no such file or folder exists."""
    if str(path) in SHIPPED_MODELS and not Path(path).exists():
        with resources.as_file(shipped_weights(str(path))) as file:
            return _read_weights(file, map_location, prefer_checkpoint)
    path = Path(path)
    if path.is_dir():
        path = _find_in_run_folder(path, prefer_checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file or run folder")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refused an object: never load it
        raise ValueError(
            f"{path}: not a restore weights file or checkpoint (it holds Python objects, which "
            "are not loaded: they could run code)"
        ) from err
    except Exception as err:  # noqa: BLE001 - report any other reading problem as a bad file
        said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: not a restore weights file or checkpoint ({said})") from err
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        if payload.get("version") != VERSION:
            raise ValueError(f"{path}: unsupported export version {payload.get('version')}")
        return payload["config"], payload["state_dict"], path
    if isinstance(payload, dict) and "restore_net_config" in payload and "state_dict" in payload:
        state = {
            k[len("net.") :]: v for k, v in payload["state_dict"].items() if k.startswith("net.")
        }
        return payload["restore_net_config"], state, path
    raise ValueError(f"{path}: not a restore weights file or checkpoint")


def shipped_weights(model: str = DEFAULT_MODEL):
    """The weights file of a shipped model (a ``Traversable``); ``ValueError`` for other names."""
    if model not in SHIPPED_MODELS:
        raise ValueError(f"no shipped model {model!r}; choose from {', '.join(SHIPPED_MODELS)}")
    return shipped_file(SHIPPED_MODELS[model])


def load_net(
    path: str | Path | None = None,
    map_location: str | torch.device = "cpu",
    model: str = DEFAULT_MODEL,
) -> RestorationVAE:
    """Load a network from an export file, a Lightning checkpoint or a ``restore-train`` run folder
    (or a shipped model's name, when no such file or folder exists); with no ``path``, the shipped
    model named ``model`` (no network access).

    Returns the network in eval mode. Raises ``FileNotFoundError`` or ``ValueError`` naming the
    file.
    """
    if path is None:
        with resources.as_file(shipped_weights(model)) as file:
            return load_net(file, map_location)
    config, state, path = _read_weights(path, map_location)
    return _build(config, state, path)


def load_model(
    weights: str | Path | None = None,
    model: str | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[RestorationVAE, str]:
    """What every front end loads: :func:`load_net` of ``weights`` (a file, checkpoint or run
    folder), or with None of the shipped ``model`` (None: :data:`restore.shipped.DEFAULT_MODEL`).

    Returns ``(net, source)``: the network in eval mode and the text that names the weights in
    messages, the path as given or ``the shipped photo model``. Raises ``OSError`` (a missing
    file: ``FileNotFoundError``) or ``ValueError`` with one line that names the weights, e.g.
    ``model.pt: not a restore weights file or checkpoint (...)``, for a front end to print as it
    is.
    """
    model = model or DEFAULT_MODEL
    source = f"the shipped {model} model" if weights is None else str(weights)
    try:
        return load_net(weights, map_location, model), source
    except RuntimeError as err:  # load_net's own errors name the file; torch's (memory) do not
        raise ValueError(f"{source}: {' '.join(str(err).split()) or type(err).__name__}") from err


def _grown_blocks(theirs: dict, ours: dict) -> bool:
    """True when ``ours`` is ``theirs`` with more residual blocks per level (and maybe another
    hole fill): the extra blocks can start as identities."""
    same = {k: v for k, v in theirs.items() if k not in ("hole_fill", "blocks")} == {
        k: v for k, v in ours.items() if k not in ("hole_fill", "blocks")
    }
    fewer = len(theirs["blocks"]) == len(ours["blocks"]) and all(
        a <= b for a, b in zip(theirs["blocks"], ours["blocks"], strict=False)
    )
    return same and fewer


# Every network setting with its default (configs leave out the heads a network lacks), lists as
# lists, as configs hold them.
_NETWORK_DEFAULTS = {
    name: list(p.default) if isinstance(p.default, tuple) else p.default
    for name, p in inspect.signature(RestorationVAE.__init__).parameters.items()
    if name != "self"
}
FINETUNE_MODEL = "photo"  # the shipped model whose network restore-train experiment=finetune builds


def _network(config: dict) -> dict:
    return {k: config.get(k, default) for k, default in _NETWORK_DEFAULTS.items()}


def _setting(value) -> str:
    """A value as a ``restore-train`` override writes it: ``true``, ``[1,2,4]``, ``harmonic``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_setting(v) for v in value) + "]"
    return str(value)


def _network_mismatch(path: Path, theirs: dict, ours: dict) -> ValueError:
    """The error of :func:`init_from` when the network of the weights at ``path`` (config
    ``theirs``) cannot start the configured one (``ours``): every setting that differs with both
    values, and the ``restore-train`` overrides that configure the weights' network (or
    ``experiment=finetune`` when it is the shipped photo model's)."""
    theirs, ours = _network(theirs), _network(ours)
    keys = [k for k in theirs if theirs[k] != ours[k]]
    said = "; ".join(
        f"{k} {_setting(theirs[k])} in the weights, {_setting(ours[k])} configured" for k in keys
    )
    fix = " ".join(f"model.net.{k}={_setting(theirs[k])}" for k in keys)
    with resources.as_file(shipped_weights(FINETUNE_MODEL)) as file:
        shipped = _network(_read_weights(file, "cpu")[0])
    if theirs == shipped:
        fix += (
            f", or use experiment=finetune, which builds the shipped {FINETUNE_MODEL} model's "
            "network"
        )
    return ValueError(
        f"{path}: its network differs from the configured one ({said}); to configure its "
        f"network: {fix}"
    )


def init_from(net: RestorationVAE, path: str | Path) -> Path:
    """Copy the weights of an export file, checkpoint or run folder, or of a shipped model by name
    (``"photo"``, ``"gaussian"``: when no such file or folder exists), into ``net`` (fine-tuning).

    The architectures must match, but: the hole fill may differ; ``net`` may be narrower (fewer
    ``widths`` per level: it starts from the source's most important channels,
    :mod:`restore.models.narrow`, for a student to learn from its teacher); ``net`` may have more
    residual blocks per level (``blocks``): the extra blocks start as identities (their second
    convolution zero), so the grown network computes exactly what the source did; and ``net``
    may add an uncertainty or damage head or a noise estimator, which start untrained; an
    uncertainty head that comes from the file keeps its calibration. A checkpoint (what a run
    folder gives here) also holds the recognition network; an export (the shipped models too) has
    none and leaves ``net``'s own, untrained, which a fine-tune learns again in its first steps
    (the restoration decodes the prior, which the export holds). Returns the file read; raises
    ``FileNotFoundError`` or ``ValueError`` naming it.
    """
    config, state, path = _read_weights(path, "cpu", prefer_checkpoint=True)
    free = ("hole_fill", *_FLAGS, *CALIBRATION_KEYS, DAMAGE_THRESHOLD_KEY)
    theirs = {k: v for k, v in config.items() if k not in free}
    ours = {k: v for k, v in net.config.items() if k not in free}
    grown = theirs != ours and _grown_blocks(config, net.config)
    narrowed = theirs != ours and not grown and can_narrow(theirs, ours)
    if theirs != ours and not grown and not narrowed:
        raise _network_mismatch(path, config, net.config)
    if narrowed:
        state = narrow_state(state, config["widths"], config["blocks"], net.config["widths"])
    ours_shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    for key, value in state.items():
        if key in ours_shapes and tuple(getattr(value, "shape", ())) != ours_shapes[key]:
            raise ValueError(
                f"{path}: weights do not match the network ({key} is "
                f"{tuple(getattr(value, 'shape', ()))} in the file, {ours_shapes[key]} here)"
            )
    missing, unexpected = net.load_state_dict(state, strict=False)
    if net.scale_head is not None and config.get("uncertainty"):
        net.calibration = UncertaintyCalibration.from_config(config)  # the head's, with it
    if net.damage_head is not None and DAMAGE_THRESHOLD_KEY in config:
        net.damage_threshold = float(config[DAMAGE_THRESHOLD_KEY])  # likewise
    new_blocks = set()
    if grown:
        for stage in ("enc", "dec"):
            for level, (old, new) in enumerate(
                zip(config["blocks"], net.config["blocks"], strict=False)
            ):
                for block in range(old, new):
                    conv2 = getattr(net, stage)[level][block].conv2
                    torch.nn.init.zeros_(conv2.weight)
                    torch.nn.init.zeros_(conv2.bias)
                    new_blocks.add(f"{stage}.{level}.{block}.")
    for part in HEADS.values():  # new heads start untrained
        head = part.attribute
        if getattr(net, head) is not None and not any(k.startswith(head + ".") for k in state):
            new_blocks.add(head + ".")
    missing = [k for k in missing if not k.startswith(tuple(new_blocks))] if new_blocks else missing
    if unexpected or any(not k.startswith(TRAINING_ONLY) for k in missing):
        raise ValueError(
            f"{path}: weights do not match the network (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
    return path

"""``restore-train``: the Hydra entry point that trains a restoration VAE.

Every knob lives in ``conf/`` (see ``conf/train.yaml``); override any of them on the command line,
e.g. ``restore-train data.root=/path/to/photos`` or ``restore-train experiment=smoke``.

A mistake is one line on stderr, ``restore-train: error: ...``, and exit status 2: an override
that cannot apply is found before Hydra starts (:func:`check_overrides`), so no run folder is
made; a run that fails before training removes the run folder Hydra made for it
(:func:`remove_unused_run_folder`).

A run stopped by SIGTERM or Ctrl-C saves its ``checkpoints/last.ckpt`` first
(:class:`~restore.training.callbacks.RunCheckpoint`, which also saves it every few minutes), says
so in one line and exits 143 or 130; ``restore-train resume=RUN [overrides]`` continues it in its
own folder, with the overrides it was started with (:func:`resume_overrides`), and ``--weights
RUN`` uses it as it stands.
"""

from __future__ import annotations

import difflib
import logging
import shutil
import sys
import warnings
from pathlib import Path
from typing import NoReturn

import hydra
import lightning as L
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import (
    HydraException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from restore.models.weights import init_from
from restore.precision import lightning_precision
from restore.training.callbacks import RunCheckpoint
from restore.training.config import config_dir

EXIT_USAGE = 2
EXIT_SIGNAL = {"SIGTERM": 143, "SIGINT": 130}  # 128 + the signal's number, as shells report it
# What a resumed run is given anew rather than taken from the overrides it was started with.
_RESUME_OWN = ("ckpt_path", "init_weights", "hydra.run.dir", "resume")

# What a setting takes, by the type of its value in the config; null, strings and interpolations
# take anything (a string setting may take a list, e.g. data.root=[a,b]).
_TAKES = (
    (bool, (bool,), "true or false"),
    ((int, float), (int, float), "a number"),
    (ListConfig, (list,), "a list, e.g. [1,2]"),
    (DictConfig, (dict,), "a mapping, e.g. {a: 1}"),
)


class OverrideError(ValueError):
    """A command-line override that cannot apply, as one line: ``<override>: <problem>``."""


class RunStopped(Exception):
    """A run stopped by a signal after saving its checkpoint: ``signal`` (``SIGTERM`` or
    ``SIGINT``), ``step`` (steps taken) and ``folder`` (the run folder)."""

    def __init__(self, signal: str, step: int, folder: Path) -> None:
        super().__init__(f"stopped by {signal} at step {step}")
        self.signal, self.step, self.folder = signal, step, folder


def resume_overrides(overrides: list[str]) -> list[str]:
    """``overrides`` with ``resume=RUN`` replaced by what continues that run: the overrides it was
    started with (its ``.hydra/overrides.yaml``), then the other ones given now (say, more
    ``trainer.max_steps``), then its checkpoint, no initial weights and its own folder. Without
    ``resume=`` they come back as they are; a folder that is no run or holds no checkpoint raises
    :class:`OverrideError`."""
    given = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") == "resume"]
    if not given:
        return overrides
    run = Path(given[-1].split("=", 1)[1]).expanduser()
    saved, checkpoint = run / ".hydra" / "overrides.yaml", run / "checkpoints" / "last.ckpt"
    if not saved.is_file():
        raise OverrideError(f"{given[-1]}: {run} is not a restore-train run folder")
    if not checkpoint.is_file():
        raise OverrideError(
            f"{given[-1]}: {run} has no checkpoints/last.ckpt (it stopped before its first step)"
        )

    def own(override: str) -> bool:
        return override.split("=", 1)[0].lstrip("+~") in _RESUME_OWN

    before = [str(o) for o in OmegaConf.load(saved) if not own(str(o))]
    now = [o for o in overrides if not own(o)]
    return [*before, *now, f"ckpt_path={checkpoint}", "++init_weights=null", f"hydra.run.dir={run}"]


class _NoTips(logging.Filter):
    """Drop Lightning's advertisements (``💡 Tip: ...``), which no run of this tool acts on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡")


def quiet_frameworks() -> None:
    """Keep the frameworks' messages that a user of ``restore-train`` cannot act on out of the
    output: Lightning's tips, and a deprecation inside Lightning's own use of torch."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_NoTips())
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
    )


def train(cfg: DictConfig) -> tuple[L.Trainer, L.LightningModule]:
    """Train from a composed config; returns the trainer and the trained module.

    The data are read and the network initialised before anything is written to the run folder,
    so that a run that cannot start leaves it as Hydra made it. A callback set to null is left
    out; so is a progress bar callback when ``trainer.enable_progress_bar`` is false.
    """
    quiet_frameworks()
    if OmegaConf.is_missing(cfg, "init_weights"):
        raise ValueError(
            "this experiment fine-tunes: give init_weights=<run folder, .ckpt, export or the name"
            " of a shipped model>"
        )
    if cfg.get("init_weights") and cfg.get("ckpt_path"):
        raise ValueError(
            "give init_weights (fine-tune, fresh optimizer) or ckpt_path (resume), not both"
        )
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    module = instantiate(
        cfg.model,
        corruption=instantiate(cfg.corruption.train),
        val_tasks=instantiate(cfg.corruption.val, _convert_="all"),
    )
    if cfg.get("init_weights"):
        source = init_from(module.net, cfg.init_weights)
        rank_zero_info(f"Network initialised from {source}")
    datamodule.setup("fit")  # once: Lightning's own call finds the datasets built
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar callback then
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    precision = lightning_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, precision=precision
    )
    if trainer.is_global_zero:
        out = Path(cfg.paths.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, out / "config.yaml", resolve=True)
        rank_zero_info(f"Run folder: {out}")
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except SystemExit:  # Lightning's way out of SIGTERM and Ctrl-C
        stopper = next((c for c in callbacks if isinstance(c, RunCheckpoint)), None)
        if stopper is None or stopper.stopped_by is None:
            raise
        raise RunStopped(
            stopper.stopped_by, trainer.global_step, Path(cfg.paths.output_dir)
        ) from None
    return trainer, module


def check_overrides(
    overrides: list[str], multirun: bool = False, config_name: str = "train"
) -> None:
    """Check command-line overrides before Hydra runs them; raises :class:`OverrideError` naming
    the first one that cannot apply and why.

    The config is composed with them as Hydra will compose it (with ``multirun``, each sweep at
    its first value; interval and glob sweeps are left to the sweeper): unreadable overrides,
    config options that do not exist and keys that are not in the config fail there. Then every
    value (every value of a sweep) must suit the setting it replaces: a number for a number, true
    or false for a flag, a list for a list, a mapping for a mapping (null, and any value for a
    setting that holds a string or null); a group's options must exist. Without ``multirun`` a
    sweep is an error.
    """
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except OverrideParseException as err:
        reason = str(err.message).strip().splitlines()[0]  # then a link to the grammar
        raise OverrideError(f"{err.override}: cannot read it ({reason})") from None
    values: list[list[Override]] = []  # the single-valued overrides each one stands for
    for override in parsed:
        if not override.is_sweep_override():
            values.append([override])
        elif not multirun:
            raise OverrideError(
                f"{override.input_line}: several values; add --multirun to run one job each, or "
                "write a list in brackets, e.g. key=[a,b]"
            )
        elif override.is_discrete_sweep() and override.value_type != ValueType.GLOB_CHOICE_SWEEP:
            key = override.get_key_element()
            values.append(
                parser.parse_overrides([f"{key}={v}" for v in override.sweep_string_iterator()])
            )
    first = [v[0] for v in values]
    with initialize_config_dir(config_dir(), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = {o.key_or_group for o in first if loader.get_group_options(o.key_or_group)}
        chosen = [o.input_line for o in first if o.key_or_group in groups]
        defaults = _compose(config_name, chosen, first)
        _compose(config_name, [o.input_line for o in first], first, defaults)
        for override in (o for options in values for o in options):
            if override.key_or_group in groups:
                options = loader.get_group_options(override.key_or_group)
                if isinstance(override.value(), str) and override.value() not in options:
                    raise OverrideError(_no_option(override, options))
            elif not (override.is_add() or override.is_force_add() or override.is_delete()):
                _check_type(override, defaults)


def _compose(
    config_name: str,
    overrides: list[str],
    parsed: list[Override],
    defaults: DictConfig | None = None,
) -> DictConfig:
    """The config with ``overrides``; their first failure as an :class:`OverrideError` naming
    the one of ``parsed`` it comes from (``defaults``: the config without the value overrides,
    for a likely spelling of a key not found)."""
    try:
        return compose(config_name, overrides, return_hydra_config=True)
    except MissingConfigException as err:
        group, _, name = (err.missing_cfg_file or "").rpartition("/")
        culprit = next((o for o in parsed if o.key_or_group == group), None)
        if culprit is None:
            raise OverrideError(_one_line(str(err))) from None
        raise OverrideError(_no_option(culprit, err.options or [])) from None
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        text = _one_line(str(err))
        culprit = next((o for o in parsed if f"'{o.key_or_group}'" in text), None)
        if culprit is None:
            raise OverrideError(text) from None
        if defaults is not None and isinstance(
            err.__cause__, (ConfigAttributeError, ConfigKeyError)
        ):
            text = f"no setting {culprit.key_or_group} in the config{_spelling(culprit, defaults)}"
            text += f"; to add one, write +{culprit.input_line}"
        raise OverrideError(f"{culprit.input_line}: {text}") from None


def _no_option(override: Override, options: list[str]) -> str:
    group = override.key_or_group
    return f"{override.input_line}: no {group} option {override.value()!r}; " + (
        f"choose from {', '.join(options)}" if options else f"there is no {group} group"
    )


def _spelling(override: Override, defaults: DictConfig) -> str:
    """`` (did you mean <key>?)`` for a key of ``defaults`` close to the override's, else ``""``."""
    parent, _, leaf = override.key_or_group.rpartition(".")
    node = defaults if not parent else OmegaConf.select(defaults, parent, default=None)
    if not isinstance(node, DictConfig):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in node], n=1)
    return f" (did you mean {'.'.join(filter(None, (parent, close[0])))}?)" if close else ""


def _check_type(override: Override, defaults: DictConfig) -> None:
    """:class:`OverrideError` unless the override's value suits the setting's value in
    ``defaults`` (:data:`_TAKES`)."""
    old = OmegaConf.select(defaults, override.key_or_group, throw_on_resolution_failure=False)
    new = override.value()
    if new is None or (isinstance(new, str) and "${" in new):
        return
    for kinds, accepted, words in _TAKES:
        if isinstance(old, kinds):
            if not isinstance(new, accepted) or isinstance(new, bool) != isinstance(old, bool):
                raise OverrideError(f"{override.input_line}: {override.key_or_group} takes {words}")
            return


def remove_unused_run_folder(folder: Path) -> bool:
    """Remove a run folder that holds nothing of a run: only Hydra's ``.hydra/``, log files
    (``*.log``) and empty folders. A folder holding anything else stays, and only the process of
    global rank 0 removes. Returns whether ``folder`` was removed."""
    if rank_zero_only.rank != 0 or not folder.is_dir():
        return False
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        hydra_files = entry.name == ".hydra" and entry.is_dir()
        log = entry.suffix == ".log" and entry.is_file()
        empty = entry.is_dir() and next(entry.iterdir(), None) is None
        if not (hydra_files or log or empty):
            return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _fail(err: Exception) -> NoReturn:
    print(f"restore-train: error: {_one_line(str(err))}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    try:
        trainer, _ = train(cfg)
    except RunStopped as stop:
        saved = stop.folder / "checkpoints" / "last.ckpt"
        print(
            f"restore-train: {stop}; "
            + (
                f"saved in {saved}: continue with restore-train resume={stop.folder}"
                if saved.is_file()
                else "nothing to save yet"
            ),
            file=sys.stderr,
        )
        sys.exit(EXIT_SIGNAL[stop.signal])
    except (ValueError, FileNotFoundError, InstantiationException) as err:
        remove_unused_run_folder(Path(HydraConfig.get().runtime.output_dir))
        _fail(err)
    metric = trainer.callback_metrics.get(cfg.get("optimized_metric") or "")
    return None if metric is None else float(metric)


def main() -> None:
    """Console-script entry point: the overrides are checked (:func:`check_overrides`; not with
    Hydra's help, info, rerun or config-path options), then Hydra runs."""
    args = get_args_parser().parse_args()
    try:
        overrides = resume_overrides(args.overrides)
    except OverrideError as err:
        _fail(err)
    if overrides != args.overrides:  # Hydra reads them from the command line
        sys.argv = [a for a in sys.argv if a not in args.overrides] + overrides
    skip = (args.help, args.hydra_help, args.info, args.shell_completion, args.experimental_rerun)
    if not any(skip) and not (args.config_path or args.config_dir):
        try:
            check_overrides(overrides, args.multirun, args.config_name or "train")
        except OverrideError as err:
            _fail(err)
    _hydra_main()


if __name__ == "__main__":
    main()

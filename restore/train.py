"""``restore-train``: the Hydra entry point that trains a restoration VAE.

Every knob lives in ``conf/`` (see ``conf/train.yaml``); override any of them on the command line,
e.g. ``restore-train data.root=/path/to/photos`` or ``restore-train experiment=smoke``.

A mistake is one line on stderr, ``restore-train: error: ...``, and exit status 2: an override
that cannot apply is found before Hydra starts (:func:`restore.training.config.check_overrides`),
so no run folder is made; a run that fails before training removes the run folder Hydra made for
it (:func:`remove_unused_run_folder`).

A run stopped by SIGTERM or Ctrl-C saves its ``checkpoints/last.ckpt`` first
(:class:`~restore.training.callbacks.RunCheckpoint`, which also saves it every few minutes), says
so in one line and exits 143 or 130; ``restore-train resume=RUN [overrides]`` continues it in its
own folder, with the overrides it was started with
(:func:`restore.training.config.resume_overrides`), and ``--weights RUN`` uses it as it stands.
"""

from __future__ import annotations

import logging
import shutil
import sys
import warnings
from pathlib import Path
from typing import NoReturn

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from omegaconf import DictConfig, OmegaConf

from restore.models.weights import init_from
from restore.precision import lightning_precision
from restore.training.callbacks import RunCheckpoint
from restore.training.config import (
    OverrideError,
    check_overrides,
    command_line,
    config_dir,
    one_line,
    resume_overrides,
)

EXIT_USAGE = 2
EXIT_SIGNAL = {"SIGTERM": 143, "SIGINT": 130}  # 128 + the signal's number, as shells report it


class RunStopped(Exception):
    """A run stopped by a signal after saving its checkpoint: ``signal`` (``SIGTERM`` or
    ``SIGINT``), ``step`` (steps taken) and ``folder`` (the run folder)."""

    def __init__(self, signal: str, step: int, folder: Path) -> None:
        super().__init__(f"stopped by {signal} at step {step}")
        self.signal, self.step, self.folder = signal, step, folder


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


def _fail(err: Exception) -> NoReturn:
    print(f"restore-train: error: {one_line(str(err))}", file=sys.stderr)
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
    """Console-script entry point: the overrides are continued (``resume=``) and checked
    (:mod:`restore.training.config`; not with Hydra's help, info, rerun or config-path options),
    then Hydra runs."""
    args = command_line()
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

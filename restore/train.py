"""``restore-train``: the Hydra entry point that trains a restoration VAE.

Every knob lives in ``conf/`` (see ``conf/train.yaml``); override any of them on the command line,
e.g. ``restore-train data.root=/path/to/photos`` or ``restore-train experiment=smoke``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, OmegaConf

from restore.models.weights import init_from
from restore.precision import lightning_precision
from restore.training.config import config_dir


def train(cfg: DictConfig) -> tuple[L.Trainer, L.LightningModule]:
    """Train from a composed config; returns the trainer and the trained module."""
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
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
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
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return trainer, module


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    try:
        trainer, _ = train(cfg)
    except (ValueError, FileNotFoundError, InstantiationException) as err:
        print(f"restore-train: error: {err}", file=sys.stderr)
        sys.exit(2)
    metric = trainer.callback_metrics.get(cfg.get("optimized_metric") or "")
    return None if metric is None else float(metric)


def main() -> None:
    """Console-script entry point."""
    _hydra_main()


if __name__ == "__main__":
    main()

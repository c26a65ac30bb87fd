"""Restoring many image files with Lightning's predict loop: on one device or several, on one
machine or many (DDP; SLURM through Lightning's cluster environment).

* :class:`ImageFiles`: a ``Dataset`` of ``(index, item)`` pairs; ``item`` is a file path (or
  anything the module's ``process`` takes). Files are read inside ``predict_step``, so a bad file
  fails alone; use ``batch_size=1`` and ``collate_fn=list`` (:func:`file_loader` does).
* :class:`PredictionModule`: a ``LightningModule`` whose ``predict_step`` restores each item with
  a :class:`~restore.restorer.Restorer` on the module's device and returns
  :class:`Prediction` records (the result, or the error message of a file that failed).
* :class:`RestoredFileWriter`: a ``BasePredictionWriter`` that writes each result as soon as its
  batch is done (``write(item, result)``: atomic writes, as :mod:`restore.io` does) and gathers one
  record per item from every process, in input order, into ``records`` on every rank.

Lightning's predict loop splits the dataset over processes without padding (each item is
predicted exactly once). Example, two CPU processes::

    import lightning as L
    from restore.jobs import JobOptions, write_result
    from restore.predict import ImageFiles, PredictionModule, RestoredFileWriter, file_loader

    module = PredictionModule(options=JobOptions(task="denoise"))   # the shipped photo model
    writer = RestoredFileWriter(lambda p: write_result(p.result, module.options, out_path(p.item)))
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", callbacks=[writer],
                        logger=False, enable_progress_bar=False)
    trainer.predict(module, file_loader(ImageFiles(paths)), return_predictions=False)
    failed = [p.item for p in writer.records if p.error]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset

from restore.errors import failure_message
from restore.jobs import JobOptions, restore_file


@dataclass
class Prediction:
    """What became of one item: ``result`` (``process``'s return value) or ``error``; then the
    writer's record of it.

    Attributes:
        index: the item's position in the input list (the order records are sorted back into).
        item: the item as given (a file path or a :class:`restore.jobs.Job`).
        result: ``process``'s return value; None when it failed, and once the writer has
            written it.
        error: one line naming the item and saying why it failed; empty when it did not.
        seconds: wall-clock seconds ``process`` took on it (not counting the write).
        record: what the writer's ``write`` returned for it (:func:`restore_jobs`: the
            :meth:`restore.jobs.JobResult.report`); None for a failed item or without ``write``.
    """

    index: int
    item: Any
    result: Any = None
    error: str = ""
    seconds: float = 0.0
    record: Any = None


class ImageFiles(Dataset):
    """``(index, item)`` for each of ``items`` (file paths, or jobs that ``process`` reads).

    ``at_least``: pad with ``None`` items (skipped by :class:`PredictionModule`) up to this
    many; give the number of processes, as Lightning's predict sampler needs an item for each.
    """

    def __init__(self, items: Sequence[Any], at_least: int = 0) -> None:
        self.items = list(items) + [None] * max(0, at_least - len(items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.items[index]


def file_loader(dataset: ImageFiles, num_workers: int = 0) -> DataLoader:
    """One item per batch, as it is (no tensor collation)."""
    return DataLoader(dataset, batch_size=1, collate_fn=list, num_workers=num_workers)


class PredictionModule(L.LightningModule):
    """Restores items in ``predict_step`` with a ``Restorer`` built on the module's device.

    Args:
        net: a loaded ``RestorationVAE`` (default: ``weights`` or the shipped ``model``).
        options: what to do to each image (:class:`restore.jobs.JobOptions`; default: denoise,
            blind).
        process: ``process(restorer, item) -> result`` (default: :func:`restore.jobs.restore_file`
            with ``options``, a :class:`restore.jobs.JobResult` for the item, a file path or a
            :class:`restore.jobs.Job`); an exception fails that item alone (its message is kept),
            so one process never stops while the others wait for it.
        restorer_kwargs: passed to ``Restorer`` (``tile``, ``precision``, ``self_ensemble``...).
    """

    def __init__(
        self,
        net=None,
        weights: str | None = None,
        model: str | None = None,
        options: JobOptions | None = None,
        process: Callable[[Any, Any], Any] | None = None,
        **restorer_kwargs: Any,
    ) -> None:
        super().__init__()
        from restore.models.weights import load_model

        self.net = net if net is not None else load_model(weights, model)[0]
        self.options = options or JobOptions(task="denoise")
        self.process = process or functools.partial(restore_file, options=self.options)
        self.restorer_kwargs = restorer_kwargs
        self.restorer = None

    def on_predict_start(self) -> None:
        from restore.restorer import Restorer

        self.restorer = Restorer(self.net, device=self.device, **self.restorer_kwargs)

    def predict_step(self, batch: list[tuple[int, Any]], batch_idx: int = 0) -> list[Prediction]:
        import time

        predictions = []
        for index, item in batch:
            if item is None:  # padding
                continue
            start = time.monotonic()
            prediction = Prediction(index, item)
            try:
                prediction.result = self.process(self.restorer, item)
            except Exception as err:  # noqa: BLE001 (out of memory on one image, a codec error)
                prediction.error = failure_message(item, err)
            prediction.seconds = time.monotonic() - start
            predictions.append(prediction)
        return predictions


class RestoredFileWriter(BasePredictionWriter):
    """Writes each prediction when its batch ends and keeps a record of each item.

    ``write(prediction) -> record``: writes ``prediction.result`` (skipped for a failed item) and
    returns what the run should remember of it (kept as ``prediction.record``). A write that
    raises marks the item failed. After the loop, ``records`` holds every
    process's predictions (their results dropped) in input order, on every rank.
    """

    def __init__(self, write: Callable[[Prediction], Any] | None = None) -> None:
        super().__init__(write_interval="batch")
        self.write = write
        self.records: list[Prediction] = []
        self._mine: list[Prediction] = []

    def on_predict_start(self, trainer, pl_module) -> None:
        self._mine, self.records = [], []

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0
    ) -> None:
        for p in prediction:
            if not p.error and self.write is not None:
                try:
                    p.record = self.write(p)
                except Exception as err:  # noqa: BLE001 (disk full, unwritable folder)
                    p.error = failure_message(p.item, err)
            p.result = None  # written: free the pixels
            self._mine.append(p)

    @property
    def finished(self) -> list[Prediction]:
        """This process's predictions so far (what an interrupted run got done here)."""
        return list(self._mine)

    def on_predict_end(self, trainer, pl_module) -> None:
        gathered = [self._mine]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, self._mine)
        self.records = sorted((p for part in gathered for p in part), key=lambda p: p.index)


@dataclass
class PredictRun:
    """What :func:`restore_jobs` did: a :class:`Prediction` per job (of every process; of this
    process only when interrupted), whether it was interrupted, whether this is process 0.

    Attributes:
        predictions: a :class:`Prediction` per job, their results dropped: of every process,
            in input order; when interrupted, of this process only, in the order it finished them.
        interrupted: whether Lightning's Ctrl-C handling stopped the run.
        first: whether this is process 0 (global rank 0).
    """

    predictions: list[Prediction]
    interrupted: bool
    first: bool


def restore_jobs(
    net,
    jobs: Sequence[Any],
    options: JobOptions,
    quality: int = 95,
    devices: int = 1,
    num_nodes: int = 1,
    accelerator: str = "auto",
    **restorer_kwargs: Any,
) -> PredictRun:
    """Restore and write :class:`restore.jobs.Job` items with Lightning's predict loop over
    ``devices`` x ``num_nodes`` processes (DDP): each job once, written by the process that
    restored it as soon as it is done (:func:`restore.jobs.write_result`); each prediction's
    ``record`` is :meth:`restore.jobs.JobResult.report` for the report. Lightning's Ctrl-C handling
    stops every process; that run comes back ``interrupted``."""
    import logging
    import warnings

    from restore.jobs import write_result

    for name in ("lightning.pytorch", "lightning.fabric"):  # keep the output to the file lines
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning's, about torch's pytree

    def write(prediction: Prediction) -> dict:
        write_result(prediction.result, options, quality=quality)
        return prediction.result.report()

    module = PredictionModule(net, options=options, **restorer_kwargs)
    writer = RestoredFileWriter(write)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy="ddp" if devices * num_nodes > 1 else "auto",
        callbacks=[writer],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    interrupted, group_before = False, _process_group()
    try:
        files = ImageFiles(jobs, at_least=devices * num_nodes)
        trainer.predict(module, file_loader(files), return_predictions=False)
    except SystemExit:  # Lightning's answer to Ctrl-C: stop every process, then exit(1)
        if not trainer.interrupted:
            raise
        interrupted = True
    predictions = writer.records or writer.finished  # interrupted: this process's files only
    if not group_before and _process_group():
        # Ours: left to the interpreter's exit, gloo's threads can abort the process after the
        # run ("terminate called without an active exception", exit status -6).
        torch.distributed.destroy_process_group()
    return PredictRun(predictions, interrupted, trainer.global_rank == 0)


def _process_group() -> bool:
    """Whether a torch.distributed process group is up in this process."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()

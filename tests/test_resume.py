"""Runs that survive a stop (issue #38): SIGTERM or Ctrl-C saves ``checkpoints/last.ckpt`` and exits
143 or 130 with a one-line hint; ``restore-train resume=RUN`` continues the run in its folder to the
steps it was given; the stopped run's folder loads as weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from restore.models.weights import load_net
from restore.training.config import OverrideError, resume_overrides


def _run_folder(tmp_path: Path, checkpoint: bool = True) -> Path:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(
        "- experiment=smoke\n- trainer.max_steps=40\n- ckpt_path=old.ckpt\n- hydra.run.dir=old\n"
    )
    if checkpoint:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    return run


def test_resume_takes_the_runs_overrides_then_the_new_ones_then_its_checkpoint(tmp_path):
    run = _run_folder(tmp_path)
    assert resume_overrides([f"resume={run}", "trainer.max_steps=80"]) == [
        "experiment=smoke",
        "trainer.max_steps=40",
        "trainer.max_steps=80",
        f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        "++init_weights=null",
        f"hydra.run.dir={run}",
    ]
    assert resume_overrides(["experiment=smoke"]) == ["experiment=smoke"]


def test_resume_of_no_run_or_a_run_without_a_checkpoint_says_which(tmp_path):
    with pytest.raises(OverrideError, match="not a restore-train run folder"):
        resume_overrides([f"resume={tmp_path}"])
    with pytest.raises(OverrideError, match="no checkpoints/last.ckpt"):
        resume_overrides([f"resume={_run_folder(tmp_path, checkpoint=False)}"])


def _train(*overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "restore.train", *overrides],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal sends it, whatever the test process inherited: a suite started
        # in the background of a script (`make test &`) ignores SIGINT and passes that on
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _steps(run: Path) -> int:
    return int(torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["global_step"])


@pytest.mark.slow
@pytest.mark.parametrize("stop,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_run_saves_its_checkpoint_and_resumes_to_the_end(tmp_path, stop, status):
    run = tmp_path / "run"
    proc = _train(
        "experiment=smoke",
        "trainer.max_steps=40",
        "trainer.val_check_interval=10",
        "callbacks.run_checkpoint.every_minutes=null",
        "+trainer.enable_progress_bar=false",
        f"hydra.run.dir={run}",
    )
    # The first validation writes last.ckpt; stop the run once it is there (no timing involved).
    deadline = time.monotonic() + 600
    while not (run / "checkpoints" / "last.ckpt").is_file() and proc.poll() is None:
        assert time.monotonic() < deadline, "the run wrote no checkpoint"
        time.sleep(0.2)
    proc.send_signal(stop)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == status, err[-2000:]
    hint = [line for line in err.splitlines() if line.startswith("restore-train:")]
    assert hint and f"continue with restore-train resume={run}" in hint[-1], err[-2000:]
    stopped_at = _steps(run)
    assert 10 <= stopped_at < 40
    assert load_net(run) is not None  # --weights RUN works on the stopped run

    proc = _train(f"resume={run}")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert _steps(run) == 40
    assert f"Restored all states from the checkpoint at {run}" in out + err
    assert (run / "export" / "model.pt").is_file()
    assert len(list((run / "checkpoints").glob("*.ckpt"))) == 2  # the best and the last

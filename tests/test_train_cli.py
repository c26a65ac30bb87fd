"""``restore-train``'s command line without training: overrides checked before Hydra runs, the run
folder of a run that cannot start, and the text of the step progress bar."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restore.train import main, remove_unused_run_folder
from restore.training.callbacks import progress_text
from restore.training.config import OverrideError, check_overrides


def _main(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["restore-train", *args])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "args,words",
    [
        (["data.rot=x"], "data.rot=x: no setting data.rot in the config (did you mean data.root?)"),
        (["experiment=smoke", "data.num_trian=8"], "did you mean data.num_train?"),
        (["experiment=nope"], "experiment=nope: no experiment option 'nope'; choose from"),
        (["data=nope"], "data=nope: no data option 'nope'; choose from folder,"),
        (["trainer.max_steps=abc"], "trainer.max_steps=abc: trainer.max_steps takes a number"),
        (["model.net.noise_estimator=1"], "model.net.noise_estimator takes true or false"),
        (["model.net.blocks=2"], "model.net.blocks takes a list"),
        (["model.net.blocks=[1,2"], "model.net.blocks=[1,2: cannot read it"),
        (["hydra.rn.dir=x"], "hydra.rn.dir=x: no setting hydra.rn.dir"),
        (["model.likelihood=laplace,gaussian"], "add --multirun"),
        (["-m", "data.batch_size=4,x"], "data.batch_size=x: data.batch_size takes a number"),
        (["-m", "experiment=smoke,nope"], "experiment=nope: no experiment option"),
    ],
)
def test_a_bad_override_is_one_line_exit_2_and_no_run_folder(
    monkeypatch, capsys, tmp_path, args, words
):
    monkeypatch.setenv("RESTORE_LOG_DIR", str(tmp_path))
    code, out, err = _main(monkeypatch, capsys, *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("restore-train: error: ") and words in err, err
    assert out == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "overrides,multirun",
    [
        (["experiment=smoke", "data.num_train=32", "hydra.run.dir=/tmp/run"], False),
        (["+init_weights=photo", "data.root=[a,b]", "trainer.val_check_interval=0.5"], False),
        (["callbacks.progress_bar=null", "model.optimizer.lr=1", "trainer.precision=16"], False),
        (["model.net.widths=${model.net.blocks}", "~callbacks.lr_monitor"], False),
        (["model.likelihood=laplace,gaussian", "seed=range(0,3)", "experiment=smoke"], True),
    ],
)
def test_good_overrides_pass(overrides, multirun):
    check_overrides(overrides, multirun)


def test_help_and_printing_the_config_still_run_hydra(monkeypatch, capsys):
    code, out, err = _main(monkeypatch, capsys, "experiment=smoke", "--cfg", "job")
    assert code == 0 and "task_name: smoke" in out and err == ""
    code, out, _ = _main(monkeypatch, capsys, "--help")
    assert code == 0 and "== Configuration groups ==" in out
    with pytest.raises(OverrideError, match="data.rot"):  # Hydra's state was left clean
        check_overrides(["data.rot=x"])


def test_a_run_folder_is_removed_only_when_it_holds_nothing_of_a_run(tmp_path):
    made = tmp_path / "made"
    (made / ".hydra").mkdir(parents=True)
    (made / ".hydra" / "config.yaml").write_text("seed: 42\n")
    (made / "train.log").write_text("")
    (made / "csv").mkdir()
    assert remove_unused_run_folder(made) and not made.exists()
    for name in ("config.yaml", "checkpoints/last.ckpt", "notes.txt"):
        kept = tmp_path / "kept" / name.replace("/", "_")
        (kept / ".hydra").mkdir(parents=True)
        (kept / name).parent.mkdir(parents=True, exist_ok=True)
        (kept / name).write_text("x")
        assert not remove_unused_run_folder(kept) and (kept / name).is_file()
    assert not remove_unused_run_folder(tmp_path / "absent")


@pytest.mark.slow
def test_a_run_that_cannot_start_says_why_in_one_line_and_leaves_no_run_folder(tmp_path):
    missing, run = tmp_path / "no_photos", tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "restore.train", f"data.root={missing}", f"hydra.run.dir={run}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert proc.returncode == 2 and errors == [
        f"restore-train: error: image folder not found: {missing}"
    ]
    assert "Traceback" not in proc.stderr and not run.exists()


@pytest.mark.parametrize(
    "args,text",
    [
        ((0, 200, 0, 0.0), "step 0/200"),
        ((30, 200, 30, 15.0, 3.0), "step 30/200, 0.4 s/step, ETA 0:01:25"),
        ((130, 200, 30, 15.0), "step 130/200, 0.5 s/step, ETA 0:00:35"),  # resumed at step 100
        ((120, 20000, 120, 50.4), "step 120/20000, 0.42 s/step, ETA 2:19:10"),
        ((30000, 20000, 100, 10.0), "step 30000/20000, 0.1 s/step, ETA 0:00:00"),
        ((10, 100000, 10, 10.0), "step 10/100000, 1 s/step, ETA 1 day, 3:46:30"),
        ((30, None, 30, 15.0, 3.0), "step 30, 0.4 s/step"),
        ((0, None, 0, 0.0), "step 0"),
    ],
)
def test_progress_text_gives_steps_time_per_step_and_the_eta(args, text):
    """The time per step leaves validation out (the fifth argument); the ETA counts it in."""
    assert progress_text(*args) == text

"""Every config in conf/ composes and instantiates; bad values give clear errors."""

from __future__ import annotations

import re

import pytest
from conftest import CONF
from hydra.utils import instantiate
from omegaconf import OmegaConf

from restore.training.config import compose_config

GROUPS = ["data", "model", "corruption", "trainer", "callbacks", "logger", "paths", "experiment"]
CASES = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]


def test_every_group_has_configs():
    assert {g for g, _ in CASES} == set(GROUPS)
    assert {"denoise", "inpaint", "mixed"} <= {n for g, n in CASES if g == "corruption"}


@pytest.mark.parametrize("group,name", CASES, ids=[f"{g}={n}" for g, n in CASES])
def test_config_composes_and_instantiates(group, name, tmp_path):
    cfg = compose_config([f"{group}={name}", f"paths.output_dir={tmp_path}"])
    if OmegaConf.is_missing(cfg.data, "root"):  # the user's photos (experiment=finetune, adapt)
        cfg.data.root = str(tmp_path)
    OmegaConf.resolve(cfg)  # every interpolation resolves
    instantiate(cfg.data)
    instantiate(
        cfg.model,
        corruption=instantiate(cfg.corruption.train),
        val_tasks=instantiate(cfg.corruption.val, _convert_="all"),
    )
    for cb in cfg.callbacks.values():
        instantiate(cb)


def test_data_root_is_one_override(tmp_path):
    cfg = compose_config([f"data.root={tmp_path}"])
    assert instantiate(cfg.data).roots == [tmp_path]
    cfg = compose_config([f"data.root=[{tmp_path}/a,{tmp_path}/b]"])
    assert instantiate(cfg.data).roots == [tmp_path / "a", tmp_path / "b"]


def test_typo_in_override_is_rejected():
    with pytest.raises(Exception, match="rot"):
        compose_config(["data.rot=/tmp"])


TEST_SETS = ("CC15", "CBSD68", "Kodak24", "Set12", "BSD68")  # measured once, never chosen on


@pytest.mark.parametrize("path", sorted(CONF.rglob("*.yaml")), ids=lambda p: p.name)
def test_no_training_config_names_a_test_set(path):
    """A test set never picks a checkpoint, fits a calibration, stops a run or tunes a mix: no
    config (values or comments) names one; validation comes from held-out training data."""
    text = path.read_text()
    assert not [name for name in TEST_SETS if re.search(rf"\b{name}\b", text)], path

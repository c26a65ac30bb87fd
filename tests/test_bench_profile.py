"""``restore-bench profile``: time by stage of each Restorer task, with a tiny random model on a
tiny photo (no assertion on absolute timings)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import restore.convert
import restore.restorer
import restore.tiling
from restore.bench import cli
from restore.bench.profile import (
    DEFAULT_TASKS,
    TASKS,
    profile_call,
    profile_tasks,
    report,
    stage_names,
)
from restore.data import synthetic_image
from restore.models import RestorationVAE
from restore.models.texture import texture_fill
from restore.models.weights import export_weights
from restore.restorer import Restorer

NETWORK = ("stem", "enc", "down", "prior", "fuse", "dec", "up", "merge", "head")
HOLES = ("inpaint-10", "inpaint-40", "restore", "samples")


@pytest.fixture(scope="module")
def full_weights(tmp_path_factory):
    """A tiny random model with every optional part (noise estimator, uncertainty and damage
    heads) and the harmonic pre-fill, as the shipped ``photo`` model has."""
    torch.manual_seed(0)
    net = RestorationVAE(
        widths=[16, 24, 32],
        blocks=[1, 1, 1],
        latent_channels=4,
        hole_fill="harmonic",
        uncertainty=True,
        damage=True,
        noise_estimator=True,
    )
    torch.nn.init.normal_(net.head.weight, std=0.02)
    return export_weights(net, tmp_path_factory.mktemp("full") / "model.pt")


@pytest.fixture
def photo() -> np.ndarray:
    return (synthetic_image(1, (96, 128), seed=3) * 255 + 0.5).astype(np.uint8)


def _restorer(weights, **kwargs) -> Restorer:
    return Restorer.from_checkpoint(weights, device="cpu", precision="fp32", **kwargs)


def test_stages_add_up_to_the_total_and_holes_cost_only_where_there_are_holes(
    full_weights, photo, one_thread
):
    restorer = _restorer(full_weights)
    results = profile_tasks(restorer, photo, list(TASKS), repeats=1)
    assert set(results) == set(TASKS)
    for name, (p,) in results.items():
        assert set(p.stages) == set(stage_names(restorer.net))
        assert min(p.stages.values()) >= 0
        assert p.other >= 0 and p.seconds > 0  # no time counted twice
        assert all(p.stages[s] > 0 for s in NETWORK) or name == "estimate-noise", name
        assert p.stages["posterior_net"] == p.stages["posterior"] == 0  # training only
        holes = name in HOLES or (name == "repair" and p.passes == 2)  # damage found: filled
        assert (p.stages["fill_holes"] > 0) == holes, name
        assert (p.stages["texture"] > 0) == holes, name
        assert p.passes == (2 if name == "samples" else p.passes if name == "repair" else 1)
        assert p.tiles == p.passes and p.overlap == 1.0  # the photo fits one tile
        assert p.network_pixels >= p.passes * photo.shape[0] * photo.shape[1]
    assert results["denoise-s25"][0].stages["noise_estimator"] == 0  # told the level
    assert results["denoise-blind"][0].stages["noise_estimator"] > 0

    table, raw = report(results, photo.shape[0] * photo.shape[1], stage_names(restorer.net))
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    last = header.index("other")
    assert header[1] == "total s/MP" and "posterior" not in header  # stages never run left out
    for line in lines[2:]:
        cells = [float(c) for c in line.strip("|").split("|")[1 : last + 1]]
        assert sum(cells[1:]) == pytest.approx(cells[0], abs=0.0005 * len(cells))
    for numbers in raw.values():
        total = sum(numbers["stages"].values()) + numbers["other"]
        assert total == pytest.approx(numbers["seconds"], rel=1e-9)


def test_overlap_counts_the_pixels_tiles_share(full_weights, photo, one_thread):
    tiled = _restorer(full_weights, tile=64, tile_overlap=16)
    (p,) = profile_tasks(tiled, photo, ["denoise-s25"], repeats=1)["denoise-s25"]
    assert p.passes == 1 and p.tiles > 1 and p.overlap > 1
    assert p.network_pixels > p.input_pixels >= photo.shape[0] * photo.shape[1]


def test_profiling_leaves_the_restorer_as_it_was(full_weights, photo, one_thread):
    restorer, fresh = _restorer(full_weights), _restorer(full_weights)
    attributes, net_attributes = dict(vars(restorer)), dict(vars(restorer.net))
    profile_tasks(restorer, photo, ["denoise-s25", "inpaint-10", "samples", "uncertainty"], 1)
    with pytest.raises(ValueError, match="sigma"):  # a call that fails puts everything back too
        profile_call(restorer, lambda: restorer.denoise(photo, sigma=-1))

    assert vars(restorer) == attributes and vars(restorer.net) == net_attributes
    for module in restorer.net.modules():
        assert not module._forward_pre_hooks and not module._forward_hooks
    assert restore.restorer.texture_fill is texture_fill
    assert restore.restorer.to_batch is restore.convert.to_batch
    assert restore.restorer.from_batch is restore.convert.from_batch
    assert restore.restorer.tiled is restore.tiling.tiled
    hole = np.zeros(photo.shape[:2], bool)
    hole[30:60, 40:90] = True

    def outputs(r: Restorer) -> list[np.ndarray]:
        return [r.denoise(photo), r.inpaint(photo, hole), *r.sample(photo, hole, 2, seed=0)]

    for a, b in zip(outputs(restorer), outputs(fresh), strict=True):
        assert np.array_equal(a, b)


def test_a_task_the_network_cannot_do_is_skipped(weights, photo, one_thread):
    results = profile_tasks(_restorer(weights), photo, ["denoise-s25", "uncertainty", "repair"], 1)
    assert results["uncertainty"] == "the network has no uncertainty head"
    assert results["repair"] == "the network has no damage head"
    _, raw = report(results, photo.shape[0] * photo.shape[1], ["stem"])
    assert raw["repair"] == {"skipped": "the network has no damage head"}


def test_cli_prints_one_row_per_task_and_writes_json(full_weights, tmp_path, capsys, one_thread):
    path = tmp_path / "profile" / "raw.json"
    argv = ["profile", "--weights", str(full_weights), "--megapixels", "0.012", "--repeats", "1"]
    assert cli.main([*argv, "--precision", "fp32", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CPU: ") and "torch threads" in out and "native bf16" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == list(DEFAULT_TASKS)
    document = json.loads(path.read_text())
    assert list(document["tasks"]) == list(DEFAULT_TASKS)
    assert document["precision"] == "fp32" and document["cpu"]["threads"] >= 1
    assert all(len(t["runs_seconds"]) == 1 for t in document["tasks"].values())
    with pytest.raises(SystemExit):
        cli.main(["profile", "--repeats", "0"])

"""The VAE: closed-form KL, reparameterised gradients, shapes, determinism and weight files."""

from __future__ import annotations

import warnings

import pytest
import torch
from helpers import SMALL
from torch.distributions import Normal, kl_divergence

from restore.models import RestorationVAE, gaussian_kl, reparameterize
from restore.models.fill import harmonic_fill, pyramid_fill
from restore.models.heads import HEADS, has_head, require_head
from restore.models.weights import export_weights, init_from, load_model, load_net


def test_kl_matches_closed_form_of_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, mu_p = torch.randn(2, 5, 7, generator=g), torch.randn(2, 5, 7, generator=g)
    lv_q, lv_p = torch.randn(2, 5, 7, generator=g), torch.randn(2, 5, 7, generator=g)
    ours = gaussian_kl(mu_q, lv_q, mu_p, lv_p)
    ref = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()), Normal(mu_p, (0.5 * lv_p).exp()))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert gaussian_kl(mu_q, lv_q, mu_q, lv_q).abs().max() < 1e-6
    # Against N(0, 1): 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2).
    zeros = torch.zeros_like(mu_q)
    expected = 0.5 * (mu_q**2 + lv_q.exp() - 1 - lv_q)
    torch.testing.assert_close(gaussian_kl(mu_q, lv_q, zeros, zeros), expected)


def test_reparameterized_sample_has_right_moments_and_gradients():
    mu = torch.full((200_000,), 1.5, requires_grad=True)
    logvar = torch.full((200_000,), 2 * torch.log(torch.tensor(0.5)).item(), requires_grad=True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    assert abs(z.mean().item() - 1.5) < 0.01 and abs(z.std().item() - 0.5) < 0.01
    (z**2).sum().backward()
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_training_pass_shapes_and_gradients_reach_every_part():
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL)
    torch.nn.init.normal_(net.head.weight, std=0.05)  # zero at init; gradients pass once it moves
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 40, 56, generator=g)
    degraded, mask = clean + 0.1 * torch.randn(2, 3, 40, 56, generator=g), torch.zeros(2, 1, 40, 56)
    out = net(degraded, mask, clean, generator=g)
    assert out.reconstruction.shape == clean.shape
    assert out.kl.shape == (2, 4, 40 // net.stride, 56 // net.stride)
    assert (out.kl >= 0).all()
    loss = (out.reconstruction - clean).abs().mean() + out.kl.mean()
    loss.backward()
    for name in (
        "stem.weight",
        "prior.conv.weight",
        "posterior.conv.weight",
        "fuse.weight",
        "head.weight",
    ):
        assert net.get_parameter(name).grad.abs().sum() > 0, name


def test_latent_changes_the_output():
    """Decoder must use z: different latents decode to different images."""
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL)
    torch.nn.init.normal_(net.head.weight, std=0.05)  # the head starts at zero (identity output)
    x = torch.rand(1, 3, 32, 32)
    enc = net.encode(x)
    a = net.decode(torch.zeros_like(enc.mu), enc)
    b = net.decode(torch.ones_like(enc.mu) * 3, enc)
    assert (a - b).abs().mean() > 1e-4


@pytest.mark.parametrize("size", [(32, 32), (37, 51), (9, 200)])
def test_restore_any_size_keeps_shape_and_range(size):
    net = RestorationVAE(**SMALL).eval()
    x = torch.rand(2, 3, *size)
    out = net.restore(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    samples = net.sample(x, n=3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, 2, 3, *size)


def test_untrained_net_is_identity_and_keep_known_copies_known_pixels():
    net = RestorationVAE(**SMALL).eval()  # zero-initialised head: output = (pre-filled) input
    x = torch.rand(1, 3, 24, 24)
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., 5:15, 5:15] = 1
    torch.testing.assert_close(net.restore(x), x)
    out = net.restore(x, mask, keep_known=True)
    torch.testing.assert_close(out * (1 - mask), x * (1 - mask))
    assert out[..., 5:15, 5:15].abs().max() == 0  # holes start from 0 ...
    for name, fill in (("pyramid", pyramid_fill), ("harmonic", harmonic_fill)):  # ... or a fill
        torch.testing.assert_close(
            RestorationVAE(**SMALL, hole_fill=name).eval().restore(x, mask), fill(x, mask)
        )


def test_export_and_reload_give_identical_outputs(tmp_path):
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    path = export_weights(net, tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["config"] == net.config
    assert not any(k.startswith("posterior") for k in payload["state_dict"])
    loaded = load_net(path)
    x = torch.rand(2, 3, 40, 40)
    assert torch.equal(loaded.restore(x), net.restore(x))


def test_init_from_an_export_copies_inference_weights_and_checks_the_network(tmp_path):
    torch.manual_seed(0)
    source = RestorationVAE(**SMALL)
    for p in source.parameters():
        torch.nn.init.normal_(p, std=0.05)
    path = export_weights(source, tmp_path / "model.pt")
    target = RestorationVAE(**{**SMALL, "hole_fill": "pyramid"})  # the hole fill may differ
    posterior_before = target.posterior.conv.weight.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing a user could act on
        assert init_from(target, path) == path
    assert torch.equal(target.head.weight, source.head.weight)
    assert torch.equal(target.prior.conv.weight, source.prior.conv.weight)
    assert torch.equal(target.posterior.conv.weight, posterior_before)  # not in an export
    other = RestorationVAE(**{**SMALL, "latent_channels": SMALL["latent_channels"] + 1})
    with pytest.raises(ValueError, match="model.pt.*differs"):
        init_from(other, path)
    with pytest.raises(FileNotFoundError, match="nothere"):
        init_from(target, tmp_path / "nothere")


def test_init_from_grows_deeper_levels_as_identities(tmp_path):
    torch.manual_seed(0)
    source = RestorationVAE(**SMALL)
    for p in source.parameters():
        torch.nn.init.normal_(p, std=0.05)
    path = export_weights(source, tmp_path / "model.pt")
    deeper = [b + 1 for b in SMALL["blocks"]]
    target = RestorationVAE(**{**SMALL, "blocks": deeper})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing a user could act on
        init_from(target, path)
    x, mask = torch.rand(2, 3, 40, 40), (torch.rand(2, 1, 40, 40) > 0.8).float()
    torch.testing.assert_close(target.restore(x, mask), source.restore(x, mask), atol=1e-5, rtol=0)
    new_conv = target.dec[0][SMALL["blocks"][0]].conv1.weight
    assert new_conv.abs().sum() > 0  # the new blocks are not dead: only their output starts at 0
    with pytest.raises(ValueError, match="differs"):  # blocks cannot be taken away
        init_from(RestorationVAE(**SMALL), export_weights(target, tmp_path / "deep.pt"))


def test_load_net_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_net(tmp_path / "nothere.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_net(bad)
    with pytest.raises(FileNotFoundError, match="no export"):
        load_net(tmp_path)


def test_load_model_errors_are_one_line_naming_the_weights(tmp_path, monkeypatch):
    net, source = load_model(model="gaussian")
    assert source == "the shipped gaussian model" and net.config["hole_fill"] == "harmonic"
    assert load_model(export_weights(net, tmp_path / "g.pt"))[1] == str(tmp_path / "g.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    for path, kind in ((tmp_path / "no.pt", FileNotFoundError), (tmp_path / "bad.pt", ValueError)):
        with pytest.raises(kind) as err:
            load_model(str(path))
        assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    with pytest.raises(
        ValueError, match="^no shipped model 'nope'; choose from photo, photo-fast, gaussian$"
    ):
        load_model(model="nope")

    def fails(*args, **kwargs):
        raise RuntimeError("out of memory\nmore")

    monkeypatch.setattr("restore.models.weights.load_net", fails)
    with pytest.raises(ValueError, match="^the shipped photo model: out of memory more$"):
        load_model()
    with pytest.raises(ValueError, match="^m.pt: out of memory more$"):
        load_model("m.pt")


def test_the_table_of_optional_parts_agrees_with_the_network(tmp_path):
    plain = RestorationVAE(**SMALL)
    for key, part in HEADS.items():
        net = RestorationVAE(**SMALL, **{part.flag: True})
        assert has_head(net, key) and not has_head(plain, key)
        assert net.config[part.flag] is True and part.flag not in plain.config
        require_head(net, key)
        with pytest.raises(ValueError) as err:
            require_head(plain, key, "w.pt", "--option")
        said = str(err.value)
        assert said.startswith(f"w.pt has no {part.name} (it was trained without one), which ")
        assert f"restore-train {part.setting}" in said and "\n" not in said
        loaded = load_net(export_weights(net, tmp_path / f"{key}.pt"))
        assert has_head(loaded, key)


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="image_channels"):
        RestorationVAE(image_channels=2)
    with pytest.raises(ValueError, match="same non-zero length"):
        RestorationVAE(widths=[8, 16], blocks=[1])
    with pytest.raises(ValueError, match="hole_fill"):
        RestorationVAE(hole_fill="mean")
    with pytest.raises(ValueError, match=r"expected \(B, 3, H, W\)"):
        RestorationVAE(**SMALL).restore(torch.rand(1, 1, 16, 16))


def test_noise_level_input_is_used_and_nan_means_unknown():
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL).eval()
    torch.nn.init.normal_(net.head.weight, std=0.05)
    x = torch.rand(2, 3, 32, 32)
    blind = net.restore(x)
    torch.testing.assert_close(net.restore(x, noise_level=torch.tensor([float("nan")] * 2)), blind)
    told = net.restore(x, noise_level=torch.tensor([25.0, 25.0]))
    assert (told - blind).abs().mean() > 1e-5
    mixed = net.restore(x, noise_level=torch.tensor([25.0, float("nan")]))
    torch.testing.assert_close(mixed[1], blind[1])
    torch.testing.assert_close(mixed[0], told[0])


def test_init_from_a_shipped_model_by_name(tmp_path, monkeypatch):
    from restore.models.weights import init_from, load_net

    monkeypatch.chdir(tmp_path)  # no file or folder named "gaussian" here
    shipped = load_net(model="gaussian")
    net = RestorationVAE(**shipped.config)
    init_from(net, "gaussian")
    for key, value in shipped.state_dict().items():
        if not key.startswith(("posterior_net.", "posterior.")):  # not in exports
            assert torch.equal(net.state_dict()[key].float(), value.float()), key
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        init_from(net, "no-such-model")


def test_a_network_mismatch_names_each_setting_and_the_overrides_that_fix_it(tmp_path, monkeypatch):
    path = export_weights(RestorationVAE(**SMALL), tmp_path / "model.pt")
    other = RestorationVAE(**{**SMALL, "latent_channels": 5, "hole_fill": "pyramid"})
    with pytest.raises(ValueError) as err:
        init_from(other, path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: its network differs")
    assert "latent_channels 4 in the weights, 5 configured" in message
    assert "hole_fill zero in the weights, pyramid configured" in message
    assert message.endswith("model.net.latent_channels=4 model.net.hole_fill=zero")
    monkeypatch.chdir(tmp_path)  # no file or folder named "photo" here
    with pytest.raises(ValueError) as err:
        init_from(RestorationVAE(), "photo")  # conf/model/vae.yaml's network
    message = str(err.value)
    assert "blocks [1,2,4] in the weights, [1,1,2] configured" in message
    assert "uncertainty true in the weights, false configured" in message
    assert "model.net.blocks=[1,2,4] model.net.hole_fill=harmonic" in message
    assert message.endswith(
        ", or use experiment=finetune, which builds the shipped photo model's network"
    )


def test_centre_crop_takes_the_middle_and_keeps_short_sides_whole():
    from restore.geometry import centre_crop

    x = torch.arange(5 * 8, dtype=torch.float32).reshape(1, 1, 5, 8)
    assert torch.equal(centre_crop(x, 4), x[..., 0:4, 2:6])
    assert torch.equal(centre_crop(x, 6), x[..., :, 1:7])  # 5 rows: all kept
    assert centre_crop(x, None) is x


def test_each_head_runs_only_when_its_output_is_asked_for():
    """Uncertainty does not run the damage head, damage detection not the uncertainty head,
    restoration neither (issue #37: each pass costs what it returns)."""
    torch.manual_seed(0)
    net = RestorationVAE(**SMALL, uncertainty=True, damage=True).eval()
    calls = {"scale_head": 0, "damage_head": 0}
    for name in calls:
        getattr(net, name).register_forward_hook(
            lambda module, inputs, output, name=name: calls.__setitem__(name, calls[name] + 1)
        )
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        net.restore(x)
    assert calls == {"scale_head": 0, "damage_head": 0}
    net.restore_with_uncertainty(x)
    assert calls == {"scale_head": 1, "damage_head": 0}
    net.detect_damage(x)
    assert calls == {"scale_head": 1, "damage_head": 1}

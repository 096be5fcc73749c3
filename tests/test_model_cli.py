"""`openreel model`: presets, create, info; and the top-level help."""

from __future__ import annotations

import json

import torch

from tests.test_generate import invoke


def test_create_and_info(tmp_path, capsys):
    out = tmp_path / "m"
    code, stdout, _ = invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(out))
    assert code == 0 and (out / "model_index.json").is_file()
    code, _, err = invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(out))
    assert code == 2 and "not empty" in err
    code, stdout, _ = invoke(capsys, "model", "info", str(out), "--json")
    facts = json.loads(stdout)
    assert facts["size_multiple"] == 32 and facts["latent_channels"] == 48 and facts["frames"] == "4n+1"
    assert 1e6 < sum(facts["parameters"].values()) < 3e6
    assert facts["tokenizer"] == "ByT5Tokenizer"


def test_presets_listed_and_tiny_is_small(capsys):
    code, stdout, _ = invoke(capsys, "model", "presets")
    assert code == 0 and {"tiny", "small", "tiny-ti2v"} <= {line.split()[0] for line in stdout.splitlines()}
    code, stdout, _ = invoke(capsys, "model", "info", "tiny", "--json")
    assert 1e6 < sum(json.loads(stdout)["parameters"].values()) < 2e6


def test_every_command_help_has_examples(capsys):
    for args in (["generate"], ["model"], ["model", "create"], ["model", "deepen"], ["model", "refine"],
                 ["model", "sharpen"], ["model", "info"], ["model", "presets"]):
        code, stdout, _ = invoke(capsys, *args, "--help")
        assert code == 0 and "Examples:" in stdout, args
    code, stdout, _ = invoke(capsys, "--help")
    assert code == 0 and "generate" in stdout


def test_cli_solver_choices_are_the_solvers():
    from openreel.cli.generate import SOLVER_CHOICES
    from openreel.models.spec import SOLVERS as SPEC_SOLVERS
    from openreel.sampling.solvers import SOLVERS

    assert set(SOLVER_CHOICES) == set(SOLVERS) == set(SPEC_SOLVERS)


def test_create_with_a_wider_decoder_keeps_the_trained_encoder(tmp_path, capsys):
    import torch
    from diffusers import AutoencoderKLWan

    src, out = tmp_path / "src", tmp_path / "wide"
    assert invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(src), "--seed", "1")[0] == 0
    code, stdout, _ = invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(out),
                             "--vae-from", str(src), "--vae-set", "decoder_base_dim=32")
    assert code == 0 and "kept encoder, quant_conv, post_quant_conv; random init: decoder" in stdout
    old = AutoencoderKLWan.from_pretrained(src / "vae")
    new = AutoencoderKLWan.from_pretrained(out / "vae")
    assert new.config.decoder_base_dim == 32 and new.config.latents_std == old.config.latents_std
    for name, tensor in old.encoder.state_dict().items():
        assert torch.equal(tensor, new.encoder.state_dict()[name]), name
    assert sum(p.numel() for p in new.decoder.parameters()) > 3 * sum(p.numel() for p in old.decoder.parameters())
    frames = torch.rand(1, 3, 5, 32, 32) * 2 - 1  # (B, C, T, H, W)
    with torch.no_grad():  # same latents, new decoder: the latent space is the trained one
        assert torch.equal(old.encode(frames).latent_dist.mode(), new.encode(frames).latent_dist.mode())
        assert new.decode(new.encode(frames).latent_dist.mode()).sample.shape == frames.shape


def test_create_with_a_deeper_vae_keeps_its_output(tmp_path, capsys):
    from diffusers import AutoencoderKLWan

    src, out = tmp_path / "src", tmp_path / "deep"
    assert invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(src), "--seed", "1")[0] == 0
    old = AutoencoderKLWan.from_pretrained(src / "vae")
    blocks = old.config.num_res_blocks + 1
    code, stdout, _ = invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(out),
                             "--vae-from", str(src), "--vae-set", f"num_res_blocks={blocks}")
    assert code == 0 and "grown (same output, added blocks to train): encoder, decoder" in stdout, stdout
    new = AutoencoderKLWan.from_pretrained(out / "vae")
    assert new.config.num_res_blocks == blocks
    assert sum(p.numel() for p in new.decoder.parameters()) > sum(p.numel() for p in old.decoder.parameters())
    added = new.decoder.up_blocks[0].resnets[-1]
    assert not added.conv2.weight.any() and added.conv1.weight.any()  # passes through, yet trainable
    frames = torch.rand(1, 3, 5, 32, 32) * 2 - 1  # (B, C, T, H, W)
    with torch.no_grad():
        latents = old.encode(frames).latent_dist.mode()
        assert torch.equal(latents, new.encode(frames).latent_dist.mode())
        assert torch.equal(old.decode(latents).sample, new.decode(latents).sample)


def test_create_vae_options_reject_bad_input(tmp_path, capsys):
    src = tmp_path / "src"
    assert invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(src))[0] == 0
    cases = [
        (["--vae-set", "decoder_base_dim=32"], "--vae-set needs --vae-from"),
        (["--vae-from", str(src), "--vae-set", "decoder_width=32"], "decoder_width is not an AutoencoderKLWan"),
        (["--vae-from", str(src), "--vae-set", "decoder_base_dim"], "expected KEY=VALUE"),
        (["--vae-from", str(tmp_path)], "no VAE at"),
        (["--vae-from", str(src), "--preset", "tiny"], "latent channels do not match"),
    ]
    for extra, message in cases:
        args = ["model", "create", "--preset", "tiny-ti2v", "--out", str(tmp_path / "x"), *extra]
        code, _, err = invoke(capsys, *args)
        assert code == 2 and message in err, (extra, err)
        assert not (tmp_path / "x").exists()


def test_deepen_doubles_the_blocks_and_keeps_the_output(tmp_path, capsys, tiny_folder):
    from openreel.generator import Generator
    from tests.conftest import TINY

    out = tmp_path / "deep"
    code, stdout, _ = invoke(capsys, "model", "deepen", str(tiny_folder), "--out", str(out))
    assert code == 0 and "2 → 4 layers" in stdout, stdout
    source, deeper = Generator.from_pretrained(str(tiny_folder)), Generator.from_pretrained(str(out))
    assert deeper.model.transformer.config.num_layers == 4 and deeper.model.spec.name == "deep"
    a = source.generate("a red ball falls", seed=5, **TINY)
    b = deeper.generate("a red ball falls", seed=5, **TINY)
    assert (a.frames == b.frames).all()
    # the new blocks are trainable capacity, not dead weight: their inner weights are the trained ones
    blocks = deeper.model.transformer.blocks
    assert torch.equal(blocks[1].attn1.to_q.weight, blocks[0].attn1.to_q.weight)
    assert not blocks[1].ffn.net[2].weight.any() and blocks[0].ffn.net[2].weight.any()


def test_deepen_vae_blocks_keeps_the_transformer_and_the_output(tmp_path, capsys):
    from openreel.generator import Generator
    from tests.conftest import TINY

    src, out = tmp_path / "src", tmp_path / "vae-deep"
    assert invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(src))[0] == 0  # Wan2.2 VAE
    source = Generator.from_pretrained(str(src))
    blocks = source.model.vae.config.num_res_blocks
    code, stdout, _ = invoke(capsys, "model", "deepen", str(src), "--out", str(out),
                             "--vae-blocks", str(blocks + 1))
    assert code == 0 and f"VAE {blocks} → {blocks + 1} residual blocks per level, same output" in stdout, stdout
    assert "transformer" not in stdout
    deeper = Generator.from_pretrained(str(out))
    assert deeper.model.vae.config.num_res_blocks == blocks + 1
    assert deeper.model.transformer.config.num_layers == source.model.transformer.config.num_layers
    assert deeper.model.vae.dtype == source.model.vae.dtype
    a = source.generate("a red ball falls", seed=5, **(TINY | {"size": "32x32"}))
    b = deeper.generate("a red ball falls", seed=5, **(TINY | {"size": "32x32"}))
    assert (a.frames == b.frames).all()


def test_deepen_rejects_bad_input(tmp_path, capsys, tiny_folder):
    code, _, err = invoke(capsys, "model", "deepen", str(tiny_folder), "--out", str(tmp_path / "d"), "--factor", "1")
    assert code == 2 and "factor" in err and "2 to 8" in err
    code, _, err = invoke(capsys, "model", "deepen", str(tmp_path), "--out", str(tmp_path / "d"))
    assert code == 2 and "model" in err
    blocks = json.loads((tiny_folder / "vae" / "config.json").read_text())["num_res_blocks"]
    code, _, err = invoke(capsys, "model", "deepen", str(tiny_folder), "--out", str(tmp_path / "d"),
                          "--vae-blocks", str(blocks))
    assert code == 2 and "vae-blocks" in err and f"exceed the source VAE's {blocks}" in err, err
    code, _, err = invoke(capsys, "model", "deepen", str(tiny_folder), "--out", str(tmp_path / "d"),
                          "--vae-blocks", str(blocks + 1))
    assert code == 2 and "encoder cannot grow in place" in err, err  # tiny is the Wan2.1 layout
    assert not (tmp_path / "d").exists()


def test_refine_halves_the_vae_cell_exactly_and_keeps_the_tokens(tmp_path, capsys):
    import torch.nn.functional as F

    from openreel.generator import Generator
    from openreel.models import load_model
    from tests.conftest import TINY

    src, out = tmp_path / "src", tmp_path / "fine"
    assert invoke(capsys, "model", "create", "--preset", "tiny-ti2v", "--out", str(src), "--seed", "1")[0] == 0
    code, stdout, _ = invoke(capsys, "model", "refine", str(src), "--out", str(out))
    assert code == 0 and "VAE 16x → 8x, transformer patches (1, 2, 2) → (1, 4, 4)" in stdout, stdout
    old, new = load_model(src), load_model(out)
    assert new.vae.config.patch_size is None and new.spatial_multiple == old.spatial_multiple == 32
    frames = torch.rand(1, 3, 5, 32, 32) * 2 - 1  # (B, C, T, H, W)
    up = F.interpolate(frames, scale_factor=(1, 2, 2), mode="nearest")  # (1, 3, 5, 64, 64)
    with torch.no_grad():
        latents = new.vae.encode(frames).latent_dist.mode()  # (1, 48, 2, 4, 4): cells of 8 px
        assert latents.shape[-2:] == (4, 4)
        torch.testing.assert_close(latents, old.vae.encode(up).latent_dist.mode(), atol=1e-5, rtol=1e-5)
        pooled = F.avg_pool3d(old.vae.decode(latents).sample, (1, 2, 2))  # (1, 3, 5, 32, 32)
        decoded = new.vae.decode(latents).sample
    clamped = F.max_pool3d((old.vae.decode(latents).sample.abs() >= 1).float(), (1, 2, 2)).bool()
    assert clamped.float().mean() < 0.1  # the source clamps before pooling: compare where it did not
    torch.testing.assert_close(decoded[~clamped], pooled[~clamped], atol=1e-5, rtol=1e-5)
    # the transformer sees as many tokens, and on a grid of repeated cells computes what the source did
    coarse = torch.randn(1, 48, 2, 4, 4)
    fine = coarse.repeat_interleave(2, 3).repeat_interleave(2, 4)  # (1, 48, 2, 8, 8)
    text = torch.randn(1, 7, old.transformer.config.text_dim)
    t = torch.tensor([500.0])
    with torch.no_grad():
        a = old.transformer(coarse, t, text).sample.repeat_interleave(2, 3).repeat_interleave(2, 4)
        b = new.transformer(fine, t, text).sample
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    video = Generator.from_pretrained(str(out)).generate("a red ball falls", seed=5, **(TINY | {"size": "32x32"}))
    assert video.frames.shape[1:3] == (32, 32)


def test_refine_rejects_a_vae_without_patchify(tmp_path, capsys, tiny_folder):
    code, _, err = invoke(capsys, "model", "refine", str(tiny_folder), "--out", str(tmp_path / "r"))
    assert code == 2 and "vae-grid" in err and "no pixel patchify" in err, err
    assert not (tmp_path / "r").exists()


def test_sharpen_folds_the_factor_into_the_weights(tmp_path, capsys, tiny_folder):
    from openreel.models import load_model
    from openreel.models.attention import scaled_self_attention

    out = tmp_path / "sharp"
    code, stdout, _ = invoke(capsys, "model", "sharpen", str(tiny_folder), "--factor", "1.5", "--out", str(out))
    assert code == 0 and "logits x1.5" in stdout, stdout
    source, sharp = load_model(tiny_folder), load_model(out)
    assert sharp.spec.name == "sharp"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, source.transformer.config.in_channels, 3, 4, 4, generator=g)  # (B, C, T, H, W)
    context = torch.randn(1, 8, source.transformer.config.text_dim, generator=g)
    t = torch.tensor([500.0])

    def velocity(net):
        with torch.no_grad():
            return net(hidden_states=x, timestep=t, encoder_hidden_states=context, return_dict=False)[0]

    made, plain = velocity(sharp.transformer), velocity(source.transformer)
    with scaled_self_attention([source.transformer], 1.5):  # an independent path to the same model
        expected = velocity(source.transformer)
    torch.testing.assert_close(made, expected, rtol=1e-4, atol=1e-5)
    assert (made - plain).abs().max() > 1e-3


def test_sharpen_scales_both_experts_and_rejects_bad_factors(tmp_path, capsys):
    from openreel.models import load_model
    from tests.conftest import official_pipeline

    src, out = tmp_path / "a14b", tmp_path / "sharp"
    official_pipeline("wan2.2-t2v-a14b").save_pretrained(src, safe_serialization=True)
    assert invoke(capsys, "model", "sharpen", str(src), "--factor", "2", "--out", str(out))[0] == 0
    before, after = load_model(src), load_model(out)
    for net in ("transformer", "transformer_2"):
        old, new = getattr(before, net).blocks[0].attn1, getattr(after, net).blocks[0].attn1
        torch.testing.assert_close(new.norm_q.weight, old.norm_q.weight * 2)
        assert torch.equal(new.norm_k.weight, old.norm_k.weight)
        assert torch.equal(new.to_q.weight, old.to_q.weight)
    for bad in ("0", "5"):
        code, _, err = invoke(capsys, "model", "sharpen", str(src), "--factor", bad, "--out", str(tmp_path / "x"))
        assert code == 2 and "factor" in err and "0.25 to 4" in err, err
        assert not (tmp_path / "x").exists()

"""Training: config errors, resume exactness, 2 processes = 1, export → generate, LoRA, overfitting.

Runs use the tiny preset on 16x16x9 clips from the shapes world: a step takes a fraction of a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from openreel.errors import InvalidInput
from openreel.train.checkpoint import list_checkpoints, replica_digests
from openreel.train.config import load_config
from openreel.train.loop import EMA, train

TINY_RUN = [
    "model.base=tiny",
    "data.width=16",
    "data.height=16",
    "data.frames=9",
    "data.limit=8",
    "run.batch_size=2",
    "run.log_every=1",
    "optim.warmup_steps=2",
]


def cfg_for(out, *extra, steps=4):
    return load_config(None, TINY_RUN + [f'run.out="{out}"', f"run.steps={steps}", *extra])


def losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "overrides, key, words",
    [
        (["optim.lrr=1"], "optim.lrr", "is not a config key"),
        (["optim.lr=-1"], "optim.lr", "greater than 0"),
        (["run.batch_size=0"], "run.batch_size", "greater than or equal to 1"),
        (["data.source=youtube"], "data.source", "'world' or 'folder'"),
        (["flow.timesteps=cosine"], "flow.timesteps", "logit_normal"),
        (["nonsense.key=1"], "nonsense", "is not a config key"),
        (["optim.lr"], "--set", "section.key=value"),
    ],
)
def test_bad_config_keys_and_values_name_the_key(overrides, key, words):
    with pytest.raises(InvalidInput) as err:
        load_config(None, overrides)
    assert err.value.field == key and words in err.value.message


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim]\nlr = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text("[optim]\nlr = 1e-3\n[run]\nsteps = 7\n")
    cfg = load_config(good, ["run.steps=9"])
    assert cfg.optim.lr == 1e-3 and cfg.run.steps == 9  # --set wins over the file
    with pytest.raises(InvalidInput, match="no config file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(InvalidInput, match="data.path"):
        train("t2v", load_config(None, ["data.source=folder"]), show_progress=False)


def test_shipped_configs_validate():
    from pathlib import Path

    configs = sorted((Path(__file__).parent.parent / "configs").rglob("*.toml"))
    assert configs
    for path in configs:
        load_config(path)


def test_resume_is_exact(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train("t2v", cfg_for(straight, "run.save_every=5", steps=10), show_progress=False)
    train("t2v", cfg_for(resumed, "run.save_every=5", steps=5), show_progress=False)
    train("t2v", cfg_for(resumed, "run.save_every=5", steps=10), resume="auto", show_progress=False)
    for name in ("weights", "ema", "optimizer"):
        a, b = load_file(straight / "last" / f"{name}.safetensors"), load_file(resumed / "last" / f"{name}.safetensors")
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert losses(straight) == losses(resumed)
    state = json.loads((resumed / "last" / "state.json").read_text())
    assert state["step"] == 10 and state["next_batch"] == 10
    # A resumed run takes the learning rate its config now says, not the one saved with the optimizer.
    train(
        "t2v",
        cfg_for(resumed, "run.save_every=5", "optim.lr=3e-3", "optim.warmup_steps=0", steps=12),
        resume="auto",
        show_progress=False,
    )
    last = json.loads((resumed / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 12 and last["lr"] == pytest.approx(3e-3)


def test_resumed_ema_follows_its_parameters_device():
    # A resumed run on a GPU crashed in its first EMA update: the saved averages came back on the CPU.
    # The "meta" device stands in for the GPU here.
    p = torch.nn.Parameter(torch.zeros(3, device="meta"))
    ema = EMA({"w": p}, decay=0.9)
    ema.load({"w": torch.ones(3, dtype=torch.float16)}, {"w": p})
    assert ema.shadow["w"].device == p.device and ema.shadow["w"].dtype == torch.float32
    ema.update({"w": p})


def test_full_training_from_an_fp16_folder_keeps_fp32_weights(tmp_path):
    # The shipped model is stored in fp16; training it further must not run AdamW on fp16 weights.
    from openreel.models.bundle import build_preset, save_model

    base = save_model(build_preset("tiny").to("cpu", torch.float16), tmp_path / "fp16")
    out = tmp_path / "run"
    cfg = load_config(None, TINY_RUN[1:] + [f'model.base="{base}"', "model.train_text_encoder=true",
                                            f'run.out="{out}"', "run.steps=2"])
    train("t2v", cfg, show_progress=False)
    assert {t.dtype for t in load_file(out / "last" / "weights.safetensors").values()} == {torch.float32}
    assert np.isfinite(losses(out)).all()
    # A frozen fp16 text encoder stays as stored, so a cache built from the folder matches the run.
    from openreel.train.cache import build_cache
    from openreel.train.loop import load_base

    frozen = TINY_RUN[1:] + [f'model.base="{base}"', "data.limit=2", f'run.out="{out}-cached"', "run.steps=2"]
    frozen_cfg = load_config(None, frozen)
    build_cache(load_base(frozen_cfg, torch.device("cpu")), frozen_cfg, tmp_path / "cache")
    train("t2v", load_config(None, frozen + [f'data.cache="{tmp_path / "cache"}"']), show_progress=False)
    assert np.isfinite(losses(tmp_path / "run-cached")).all()


def test_time_budget_checkpoints_and_stops(tmp_path):
    out = tmp_path / "run"
    # A budget shorter than one step: the first step runs, is saved, and the run stops there.
    train("t2v", cfg_for(out, "run.max_minutes=1e-6", "run.save_every=100", steps=50), show_progress=False)
    state = json.loads((out / "last" / "state.json").read_text())
    assert state["step"] == 1
    train("t2v", cfg_for(out, "run.save_every=100", steps=3), resume="auto", show_progress=False)
    assert json.loads((out / "last" / "state.json").read_text())["step"] == 3


def test_checkpoints_atomic_keep_last_and_wrong_resume(tmp_path):
    out = tmp_path / "run"
    train("t2v", cfg_for(out, "run.save_every=1", "run.keep_last=2", steps=4), show_progress=False)
    names = [p.name for p in list_checkpoints(out)]
    assert names == ["step-000003", "step-000004"]
    assert (out / "last").resolve().name == "step-000004"
    assert not list((out / "checkpoints").glob("*.tmp"))
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.bin"))  # no pickle
    with pytest.raises(InvalidInput, match="from a t2v run, not vae"):
        train("vae", cfg_for(out, steps=6), resume="auto", show_progress=False)


def test_two_processes_match_one(tmp_path):
    """DDP over 2 CPU processes (gloo) with batch 2 each = 1 process with batch 4."""
    one, two = tmp_path / "one", tmp_path / "two"
    train("t2v", cfg_for(one, "run.batch_size=4", steps=3), show_progress=False)
    sets = [arg for s in TINY_RUN + ["run.batch_size=2", f'run.out="{two}"', "run.steps=3"] for arg in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            str(29500 + os.getpid() % 1000),
            "-m",
            "openreel",
            "train",
            "t2v",
            "-q",
            *sets,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("run folder:") == 1
    assert np.allclose(losses(one), losses(two), rtol=1e-5, atol=1e-6)
    digests = replica_digests(two / "last")
    assert sorted(digests) == [0, 1] and len(set(digests.values())) == 1  # ranks hold identical weights
    a, b = load_file(one / "last" / "weights.safetensors"), load_file(two / "last" / "weights.safetensors")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4


def test_t2v_export_loads_in_openreel_and_diffusers(tmp_path):
    from diffusers import WanPipeline

    from openreel import Generator
    from openreel.train.export import export

    run = tmp_path / "run"
    train("t2v", cfg_for(run, steps=2), show_progress=False)
    folder = export(run, tmp_path / "model", name="my-model")
    spec = json.loads((folder / "openreel.json").read_text())
    assert spec["name"] == "my-model" and spec["defaults"]["width"] == 16
    video = Generator.from_pretrained(folder, device="cpu").generate("a red ball", seed=0, frames=9, steps=2)
    assert video.frames.shape == (9, 16, 16, 3) and video.record.model.id == "my-model"
    ema = load_file(run / "last" / "ema.safetensors")
    exported = load_file(folder / "transformer" / "diffusion_pytorch_model.safetensors")
    assert torch.equal(exported["proj_out.weight"], ema["transformer.proj_out.weight"])  # EMA by default
    WanPipeline.from_pretrained(folder, local_files_only=True)


def test_vae_training_lowers_loss_and_exports_latent_stats(tmp_path):
    from openreel.models import load_model
    from openreel.train.export import export

    run = tmp_path / "vae"
    train(
        "vae",
        cfg_for(
            run,
            "data.limit=2",
            "data.width=32",
            "data.height=32",
            "data.fixed_noise=true",
            "optim.lr=2e-3",
            "optim.warmup_steps=0",
            "vae.stats_batches=2",
            "run.sample_every=30",
            steps=30,
        ),
        show_progress=False,
    )
    rows = losses(run)
    assert np.mean(rows[-5:]) < 0.4 * np.mean(rows[:3])  # 0.50 → ~0.09 when measured
    assert (run / "samples" / "step-000030" / "00.png").is_file() and (run / "loss.png").is_file()
    model = load_model(export(run, tmp_path / "m"))
    std = model.vae.config.latents_std
    assert len(std) == model.vae.config.z_dim and std != [1.0] * len(std)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from openreel.world.dataset import write_dataset
    from openreel.world.sampler import SceneDist

    out = tmp_path_factory.mktemp("data") / "clips"
    write_dataset(out, 4, seed=3, dist=SceneDist(size=64, seconds={1.0: 1.0}))
    return out


def test_folder_dataset_is_read_resampled_and_resized(clips):
    from openreel.train.data import FolderSource

    source = FolderSource(
        load_config(
            None,
            [
                "data.source=folder",
                f'data.path="{clips}"',
                "data.width=32",
                "data.height=32",
                "data.frames=9",
                "data.fps=8",
            ],
        ).data
    )
    clip = source.clip(0)
    assert len(source) == 4 and clip.frames.shape == (3, 9, 32, 32)  # 9 frames at 8 fps from a 16 fps clip
    assert clip.frames.dtype == torch.uint8  # bytes until the model's device
    assert set(clip.captions) == {"en", "zh"}


def test_lora_save_load_changes_outputs_and_scale_zero_restores(tmp_path, clips, tiny_folder):
    from openreel import Generator
    from openreel.train.export import export

    run = tmp_path / "lora"
    cfg = load_config(
        None,
        [
            f'model.base="{tiny_folder}"',
            "data.source=folder",
            f'data.path="{clips}"',
            "data.width=16",
            "data.height=16",
            "data.frames=9",
            "run.batch_size=2",
            "lora.rank=4",
            "optim.lr=1e-2",
            "optim.warmup_steps=0",
            f'run.out="{run}"',
            "run.steps=3",
        ],
    )
    train("lora", cfg, show_progress=False)
    weights = load_file(run / "last" / "weights.safetensors")
    assert weights and all("lora_" in k for k in weights)  # only adapter weights trained and saved
    adapter = export(run, tmp_path / "adapter")
    assert (adapter / "pytorch_lora_weights.safetensors").stat().st_size < 200_000
    settings = dict(prompt="a red ball", seed=1, size="16x16", frames=9, steps=2)
    base = Generator.from_pretrained(tiny_folder, device="cpu").generate(**settings)
    full = Generator.from_pretrained(tiny_folder, device="cpu", lora=adapter, lora_scale=1.0).generate(**settings)
    zero = Generator.from_pretrained(tiny_folder, device="cpu", lora=adapter, lora_scale=0.0).generate(**settings)
    assert not np.array_equal(base.frames, full.frames)
    assert np.array_equal(base.frames, zero.frames)
    assert full.record.model.lora["scale"] == 1.0 and len(full.record.model.lora["sha256"]) == 64


def test_cache_gives_the_same_training_as_encoding_on_the_fly(tmp_path, clips):
    """With frozen encoders, training from the cache equals encoding each step."""
    from openreel.train.cache import build_cache
    from openreel.train.loop import load_base

    common = [
        "model.base=tiny",
        "data.source=folder",
        f'data.path="{clips}"',
        "data.width=16",
        "data.height=16",
        "data.frames=9",
        "run.batch_size=2",
        "run.log_every=1",
        "run.steps=3",
    ]

    def run(name, overrides, cache=None):  # trains into tmp_path/name and returns its losses
        extra = [f'data.cache="{tmp_path / cache}"'] if cache else []
        train("t2v", load_config(None, overrides + [f'run.out="{tmp_path / name}"'] + extra), show_progress=False)
        return losses(tmp_path / name)

    cfg = load_config(None, common)
    build_cache(load_base(cfg, torch.device("cpu")), cfg, tmp_path / "cache", batch_size=3)  # batches of 3 and 1
    live = run("live", common)
    assert np.allclose(live, run("cached", common, "cache"), rtol=1e-4)
    # A text encoder in training reads captions live; the latents still come from the cache.
    joint = common + ["model.train_text_encoder=true"]
    live_te = run("live-te", joint)
    assert np.allclose(live_te, run("cached-te", joint, "cache"), rtol=1e-4)
    assert not np.allclose(live_te, live, rtol=1e-6)
    # Built for a run that trains the text encoder, a cache holds latents only (decoded by 2 workers here).
    joint_cfg = load_config(None, joint + ["data.workers=2"])
    build_cache(load_base(joint_cfg, torch.device("cpu")), joint_cfg, tmp_path / "latents", batch_size=2)
    assert set(load_file(tmp_path / "latents" / "clips" / "000000.safetensors")) == {"mean", "foreground"}
    assert np.allclose(live_te, run("latents-te", joint, "latents"), rtol=1e-4)
    info = json.loads((tmp_path / "latents" / "cache.json").read_text())
    del info["caption_text"]  # as a cache made before caption text was kept: captions from the folder
    (tmp_path / "latents" / "cache.json").write_text(json.dumps(info))
    assert np.allclose(live_te, run("older-te", joint, "latents"), rtol=1e-4)
    with pytest.raises(InvalidInput, match="holds latents only"):
        train("t2v", load_config(None, common + [f'data.cache="{tmp_path / "latents"}"']), show_progress=False)
    # Object-weighted flow loss: the cached masks equal the ones computed from the frames.
    weighted = common + ["flow.foreground_weight=8"]
    live_fg = run("live-fg", weighted)
    assert np.allclose(live_fg, run("cached-fg", weighted, "cache"), rtol=1e-4)
    assert not np.allclose(live_fg, live, rtol=1e-3)
    info = json.loads((tmp_path / "cache" / "cache.json").read_text())
    (tmp_path / "cache" / "cache.json").write_text(json.dumps({**info, "foreground": False}))  # an older cache
    with pytest.raises(InvalidInput, match="no foreground masks"):
        train("t2v", load_config(None, weighted + [f'data.cache="{tmp_path / "cache"}"']), show_progress=False)
    with pytest.raises(InvalidInput, match="made for other width"):
        train(
            "t2v",
            load_config(None, common + ["data.width=32", "data.height=32", f'data.cache="{tmp_path / "cache"}"']),
            show_progress=False,
        )


def test_world_cache_renders_encodes_and_trains_like_the_live_world(tmp_path):
    """World clips cached without video files: the same latents, captions and training as rendering each step."""
    from openreel.train.cache import CachedClips, build_cache
    from openreel.train.data import WorldSource, to_model_range
    from openreel.train.loop import load_base

    common = TINY_RUN[:4] + ["data.limit=3", "run.batch_size=2", "run.log_every=1", "run.steps=3"]
    cfg = load_config(None, common)
    model = load_base(cfg, torch.device("cpu"))
    build_cache(model, cfg, tmp_path / "cache", batch_size=2)
    cache, world = CachedClips(tmp_path / "cache", model, cfg), WorldSource(cfg.data)
    clip = world.clip(2)
    assert cache.captions(2) == clip.captions and len(cache) == 3
    with torch.no_grad():
        mean = model.vae.encode(to_model_range(clip.frames[None])).latent_dist.mean[0]
    assert torch.allclose(cache.load(2)["mean"], mean, atol=1e-5)

    def run(name, overrides):  # trains into tmp_path/name and returns its losses
        train("t2v", load_config(None, overrides + [f'run.out="{tmp_path / name}"']), show_progress=False)
        return losses(tmp_path / name)

    cached = [f'data.cache="{tmp_path / "cache"}"']
    assert np.allclose(run("live", common), run("cached", common + cached), rtol=1e-4)
    joint = common + ["model.train_text_encoder=true"]  # captions read live from the cache's caption text
    assert np.allclose(run("live-te", joint), run("cached-te", joint + cached), rtol=1e-4)
    with pytest.raises(InvalidInput, match=r"made for other seed \(0; this run: 5\)"):
        train("t2v", load_config(None, common + cached + ["data.seed=5"]), show_progress=False)
    with pytest.raises(InvalidInput, match="data.limit"):
        build_cache(model, load_config(None, TINY_RUN[:4]), tmp_path / "endless")


def test_prefix_conditioning_keeps_first_frames_clean():
    from openreel.train.config import FlowSection
    from openreel.train.objective import flow_batch, flow_loss

    latents = torch.randn(2, 4, 3, 4, 4)
    fb = flow_batch(latents, torch.tensor([0, 1]), FlowSection(prefix_prob=1.0, prefix_max_frames=1), 0, (1, 2, 2))
    assert torch.equal(fb.noisy[:, :, 0], latents[:, :, 0])  # frame 0 is given, not noised
    assert not torch.equal(fb.noisy[:, :, 1], latents[:, :, 1])
    tokens_per_frame = 2 * 2
    assert (fb.timestep[:, :tokens_per_frame] == 0).all() and (fb.timestep[:, tokens_per_frame:] > 0).all()
    pred = fb.target.clone()
    pred[:, :, 0] += 100.0  # errors on the clean frame do not count
    assert flow_loss(pred, fb).item() == 0.0


def test_high_noise_share_draws_that_many_sigmas_near_one():
    from openreel.train.config import FlowSection
    from openreel.train.objective import flow_batch

    latents, positions = torch.zeros(400, 1, 1, 2, 2), torch.arange(400)
    plain = flow_batch(latents, positions, FlowSection(), 0, (1, 2, 2)).sigma
    mixed = flow_batch(latents, positions, FlowSection(high_noise_prob=0.3), 0, (1, 2, 2)).sigma
    assert (plain > 0.97).float().mean() < 0.02  # logit-normal(0, 1) hardly reaches σ ≈ 1
    assert 0.22 < (mixed > 0.97).float().mean() < 0.38
    assert torch.equal(flow_batch(latents, positions, FlowSection(high_noise_prob=0.0), 0, (1, 2, 2)).sigma, plain)


def test_batches_split_across_ranks_like_one_process():
    from openreel.train.data import BatchPlan, RankBatches, WorldSource

    source = WorldSource(load_config(None, ["data.limit=8"]).data)
    plan = BatchPlan(source, 4, seed=0)
    one = next(iter(RankBatches(plan, 5, rank=0, world=1, per_rank=4)))
    two = [next(iter(RankBatches(plan, 5, rank=r, world=2, per_rank=2))) for r in (0, 1)]
    assert one == two[0] + two[1]
    epoch = [i for k in range(2) for i in plan.batch(k)]
    assert sorted(epoch) == list(range(8))  # an epoch sees every clip once


def test_overfit_four_clips(tmp_path):
    """Loss on 4 clips with fixed noise falls 10x: the model, objective and optimiser can learn."""
    run = tmp_path / "overfit"
    train(
        "t2v",
        cfg_for(
            run,
            "data.limit=4",
            "run.batch_size=4",
            "data.fixed_noise=true",
            "optim.lr=3e-3",
            "optim.warmup_steps=10",
            "run.save_every=1000",
            steps=60,
        ),
        show_progress=False,
    )
    rows = losses(run)
    assert np.mean(rows[-10:]) < np.mean(rows[:10]) / 10


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    from openreel.train.config import OptimSection
    from openreel.train.loop import lr_factor

    constant = OptimSection(warmup_steps=10)
    cosine = OptimSection(warmup_steps=10, schedule="cosine", min_lr_ratio=0.2)
    assert lr_factor(0, constant, 100) == pytest.approx(0.1) and lr_factor(50, constant, 100) == 1.0
    assert lr_factor(9, cosine, 100) == pytest.approx(1.0)
    assert lr_factor(55, cosine, 100) == pytest.approx(0.6)  # half way: floor + half the range
    assert lr_factor(99, cosine, 100) == pytest.approx(0.2, abs=1e-3)
    factors = [lr_factor(s, cosine, 100) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))


def test_foreground_weights_favour_objects_and_keep_mean_one():
    from openreel.train.objective import foreground_weights

    frames = torch.full((1, 3, 2, 16, 16), -1.0)  # (B, C, T, H, W): black
    frames[:, 0, :, 4:8, 4:8] = 1.0  # a red square
    w = foreground_weights(frames, strength=20)
    assert w.shape == (1, 1, 2, 16, 16)
    assert torch.allclose(w.mean(dim=(2, 3, 4)), torch.ones(1, 1))
    assert w[0, 0, 0, 5, 5] == w.max() and w[0, 0, 0, 0, 0] == w.min()
    assert (w.max() / w.min()).item() == pytest.approx(21)
    assert torch.equal(foreground_weights(torch.zeros(1, 3, 1, 4, 4), 20), torch.ones(1, 1, 1, 4, 4))


def test_foreground_margin_weighs_both_sides_of_an_edge():
    from openreel.train.objective import foreground_weights

    frames = torch.full((1, 3, 2, 16, 16), -1.0)  # (B, C, T, H, W): black
    frames[:, 0, 1, 6:10, 6:10] = 1.0  # a red square in the second frame only
    w = foreground_weights(frames, strength=20, margin=2)[0, 0]  # (T, H, W)
    assert w[1, 4, 4] == w[1, 7, 7] == w.max()  # 2 px outside the square's corner weighs like its inside
    assert w[1, 3, 7] == w[1, 7, 12] == w[1].min()  # 3 px out does not
    assert torch.all(w[0] == w[1].min())  # the margin stays within its frame
    assert torch.allclose(w.mean(), torch.ones(()))


def test_latent_foreground_marks_the_cells_an_object_touches():
    from openreel.train.objective import latent_foreground

    frames = torch.full((1, 3, 9, 16, 16), -1.0)  # (B, C, T, H, W): black, 9 frames → 3 latent frames
    frames[:, 1, 0, 0:2, 0:2] = 1.0  # frame 0: a green dot in the top-left cell
    frames[:, 0, 6, 9:11, 12:14] = 1.0  # frame 6 (latent frame 2 covers 5..8): a red dot, bottom right
    mask = latent_foreground(frames, spatial=8, temporal=4)
    assert mask.shape == (1, 1, 3, 2, 2)
    expected = torch.zeros(3, 2, 2)
    expected[0, 0, 0] = expected[2, 1, 1] = 1
    assert torch.equal(mask[0, 0], expected)
    with pytest.raises(InvalidInput, match="data.frames"):
        latent_foreground(frames[:, :, :8], spatial=8, temporal=4)


def test_foreground_weight_counts_object_cells_more_in_the_flow_loss():
    from openreel.train.objective import FlowBatch, flow_loss

    target = torch.zeros(1, 4, 2, 2, 2)  # (B, C, T, H, W)
    pred = target.clone()
    pred[:, :, 1, 0, 0] = 1.0  # the only error: one cell of the second frame
    fg = torch.zeros(1, 1, 2, 2, 2)
    fg[:, :, 1, 0, 0] = 1.0  # ... which holds an object
    batch = FlowBatch(target, target, torch.zeros(1, 8), torch.ones(1, 1, 2, 1, 1), torch.ones(1))
    plain = flow_loss(pred, batch)
    assert plain.item() == pytest.approx(1 / 8)  # one cell of eight
    assert flow_loss(pred, batch, fg, 0.0).item() == pytest.approx(plain.item())
    assert flow_loss(pred, batch, fg, 9.0).item() == pytest.approx(10 / 17)  # that cell counts 10 of 17
    batch.mask[:, :, 1] = 0  # a clean prefix frame never counts, object or not
    assert flow_loss(pred, batch, fg, 9.0).item() == 0.0


def test_foreground_weight_only_applies_up_to_its_sigma():
    from openreel.train.objective import FlowBatch, flow_loss

    target = torch.zeros(2, 4, 1, 2, 2)  # (B, C, T, H, W): two samples, one at σ 0.3, one at 0.95
    pred = target.clone()
    pred[:, :, 0, 0, 0] = 1.0  # each sample's only error sits in its object's cell
    fg = torch.zeros(2, 1, 1, 2, 2)
    fg[:, :, 0, 0, 0] = 1.0
    batch = FlowBatch(target, target, torch.zeros(2, 4), torch.ones(2, 1, 1, 1, 1), torch.tensor([0.3, 0.95]))
    assert flow_loss(pred, batch, fg, 9.0).item() == pytest.approx(20 / 26)  # both weighted: 10 of 13 each
    # Gated at σ 0.5 the noisier sample spreads its weight of 13 evenly: its object cell counts 13 / 4
    assert flow_loss(pred, batch, fg, 9.0, foreground_max_sigma=0.5).item() == pytest.approx((10 + 13 / 4) / 26)
    assert flow_loss(pred, batch, fg, 9.0, foreground_max_sigma=0.95).item() == pytest.approx(20 / 26)


def test_vae_loss_decodes_the_mean_when_not_sampling():
    from openreel.models import build_preset
    from openreel.train.config import VaeSection
    from openreel.train.objective import Autoencode, vae_loss

    torch.manual_seed(0)
    auto = Autoencode(build_preset("tiny").vae)
    frames = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    keys = torch.tensor([0])
    mean_only = VaeSection(sample_posterior=False)
    a = vae_loss(auto, frames, keys, mean_only, seed=1)[0]
    b = vae_loss(auto, frames, keys, mean_only, seed=2)[0]
    assert torch.equal(a, b)  # no posterior noise: the seed does not matter
    sampled = [vae_loss(auto, frames, keys, VaeSection(), seed=s)[0] for s in (1, 2)]
    assert not torch.equal(*sampled)


def test_random_crop_takes_one_window_for_every_frame():
    from openreel.train.data import random_crop, sample_generator

    frames = torch.arange(3 * 2 * 8 * 8, dtype=torch.uint8).reshape(3, 2, 8, 8)  # (3, T, H, W)
    a = random_crop(frames, 4, sample_generator(0, 5, "crop"))
    assert a.shape == (3, 2, 4, 4)
    assert torch.equal(a, random_crop(frames, 4, sample_generator(0, 5, "crop")))  # the key fixes the window
    top, left = divmod(int(a[0, 0, 0, 0]), 8)
    assert torch.equal(a, frames[..., top:top + 4, left:left + 4])  # same window in both frames
    windows = {int(random_crop(frames, 4, sample_generator(0, k, "crop"))[0, 0, 0, 0]) for k in range(20)}
    assert len(windows) > 5
    with pytest.raises(InvalidInput) as err:
        random_crop(frames, 16, sample_generator(0, 0, "crop"))
    assert err.value.field == "data.crop" and "8x8" in err.value.message


def test_vae_trains_on_crops_and_other_runs_refuse_them(tmp_path):
    run = tmp_path / "vae"
    train("vae", cfg_for(run, "data.width=32", "data.height=32", "data.crop=16", "vae.stats_batches=1", steps=2),
          show_progress=False)
    assert len(losses(run)) == 2
    with pytest.raises(InvalidInput) as err:
        train("t2v", cfg_for(tmp_path / "t2v", "data.crop=16"), show_progress=False)
    assert err.value.field == "data.crop" and "only VAE training" in err.value.message
    with pytest.raises(InvalidInput) as err:
        train("vae", cfg_for(tmp_path / "odd", "data.width=32", "data.height=32", "data.crop=24"),
              show_progress=False)
    assert err.value.field == "data.crop" and "multiple" in err.value.message


def test_decoder_only_vae_training_keeps_the_latent_space(tmp_path):
    from openreel.models import build_preset, load_model
    from openreel.train.export import export

    run = tmp_path / "dec"
    train("vae", cfg_for(run, "vae.train_encoder=false", "vae.stats_batches=1", "optim.lr=1e-2", steps=2),
          show_progress=False)
    before, after = build_preset("tiny", seed=0).vae, load_model(export(run, tmp_path / "m")).vae
    for part in ("encoder", "quant_conv", "decoder"):
        same = all(torch.equal(a, b) for a, b in zip(getattr(before, part).state_dict().values(),
                                                      getattr(after, part).state_dict().values()))
        assert same == (part != "decoder"), part
    # and so do its statistics: re-measured on other clips they would shift every latent the
    # transformer trained on by the sampling noise of a few batches
    assert after.config.latents_mean == before.config.latents_mean
    assert after.config.latents_std == before.config.latents_std


def test_bf16_autocast_trains_and_keeps_fp32_weights(tmp_path):
    # How the default VAE trains on CPU (run 5, MODEL_CARD.md); checkpoints must stay fp32 all the same.
    from openreel.models import load_model
    from openreel.train.export import export

    run = tmp_path / "bf16"
    train("vae", cfg_for(run, "run.mixed_precision=bf16", "vae.stats_batches=1", steps=2), show_progress=False)
    assert all(np.isfinite(losses(run)))
    vae = load_model(export(run, tmp_path / "m")).vae
    assert {p.dtype for p in vae.parameters()} == {torch.float32}

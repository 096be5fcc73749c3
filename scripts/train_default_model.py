"""Train OpenReel's default model end to end within a wall-clock budget, on whatever machine this is.

    1. VAE          configs/default/1-vae.toml, world clips rendered on the fly (stream seed 1)
    2. export it    <out>/vae-model
    3. transformer  configs/default/2-t2v.toml on that VAE, text encoder trained too (stream seed 2)
    4. export       <out>/model (fp32) and <out>/model-fp16 (what ships in src/openreel/weights/default)
    5. check        the VAE's reconstructions and the model's generations of held-out prompts, scored
                    by the shapes-world evaluator (pass rate overall and per check), and how much the
                    model reads its prompt (flow loss with right vs shuffled captions, per σ), and
                    from which noise level it loses held-out clips' objects (renoise, per σ)

Each stage first probes its throughput for a few dozen steps, then sizes `run.steps` so the cosine
schedule ends inside the stage's share of the budget; `run.max_minutes` is the hard stop.

    python scripts/train_default_model.py --minutes 8 --out runs/default          # one GPU: the shipped recipe
    python scripts/train_default_model.py --minutes 9 --out runs/default --vae-from checkpoints/default-vae \\
        --t2v-cache 20000 --vae-set optim.lr=3e-4                                 # continue the kept VAE
    python scripts/train_default_model.py --minutes 6 --out runs/fine8 --t2v-from models/fine8-vae
                                                  # continue a model's transformer (e.g. after `openreel model refine`)
    python scripts/train_default_model.py --minutes 3 --out /tmp/smoke \\
        --set data.width=64 --set data.height=64 --set run.batch_size=2 --set data.workers=0   # CPU smoke run
    python scripts/train_default_model.py --check-vae runs/default/vae-model --check 32  # score a VAE alone
    python scripts/train_default_model.py --check-text runs/default/model --check 16     # does it read prompts?
    python scripts/train_default_model.py --check-renoise runs/default/model --check 8   # where objects are lost
    python scripts/train_default_model.py --check-generate runs/default/model --check 16 --check-suite seen
    python scripts/train_default_model.py --check-blur 1.5 --check 32   # the same for blurred originals
    python scripts/train_default_model.py --check-vae src/openreel/weights/default --check 32 --check-size 256
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAE_CONFIG = ROOT / "configs/default/1-vae.toml"
T2V_CONFIG = ROOT / "configs/default/2-t2v.toml"


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def measured_rate(run_dir: Path, batch: int) -> float:
    """Samples/s over a probe run's second half, by wall clock: data stalls count. (The per-step rate
    does not see them: on the first GPU run it read 300 samples/s where the run then made 120.)"""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    half = rows[max(0, len(rows) // 2 - 1):]  # at least two rows
    return (half[-1]["step"] - half[0]["step"]) * batch / (half[-1]["time"] - half[0]["time"])


def stage(kind: str, config: Path, sets: list[str], out: Path, minutes: float, probe_steps: int = 60) -> Path:
    """Probe, size the run to `minutes`, train; returns the run folder."""
    from openreel.train.config import load_config
    from openreel.train.loop import train

    started = time.monotonic()
    probe_dir = out.parent / f"{out.name}-probe"
    probe = load_config(config, sets + [f'run.out="{probe_dir}"', "run.log_every=1", "run.save_every=100000",
                                        "vae.stats_batches=1"])
    # Long enough to drain the loader's prefetched batches (2 per worker) before the measured half.
    probe_steps = max(probe_steps, 8 * probe.data.workers)
    train(kind, probe.model_copy(update={"run": probe.run.model_copy(update={"steps": probe_steps})}),
          show_progress=False)
    batch = probe.run.batch_size
    rate = measured_rate(probe_dir, batch)
    left = minutes * 60 - (time.monotonic() - started)
    if left < 6:
        log(f"{kind}: the probe used up this stage's {minutes:.2f} min; training {probe_steps} steps more anyway")
        left = 6.0
    steps = max(probe_steps, int(0.92 * left * rate / batch))  # 8 % for checkpoints and start-up
    log(f"{kind}: probe {rate:.1f} samples/s at batch {batch} → {steps} steps in {left / 60:.1f} min")
    cfg = load_config(config, sets + [f'run.out="{out}"', f"run.steps={steps}", f"run.max_minutes={left / 60:.3f}"])
    train(kind, cfg, show_progress=False)
    return out


def start_from_vae(vae_dir: Path, out: Path, preset: str = "shapes") -> Path:
    """A model folder of `preset` whose VAE is the one in `vae_dir/vae` (e.g. checkpoints/default-vae),
    for a VAE stage that continues earlier training instead of starting from random weights."""
    import dataclasses

    from openreel.models.bundle import build_preset, save_model
    from openreel.models.vae_rebuild import load_vae

    model = dataclasses.replace(build_preset(preset), vae=load_vae(vae_dir))
    return save_model(model, out, overwrite=True)


def cached_dataset(out: Path, count: int, sets: list[str]) -> list[str]:
    """Render the first `count` transformer clips of the world stream and encode them once with the
    stage-1 VAE; returns the overrides that train from that cache. The transformer's steps then skip
    rendering and the VAE (on one H200 the refined 8x VAE's encode held a step of 128 clips to 1.4 s),
    at the price of a finite dataset."""
    import os

    import torch

    from openreel.train.cache import build_cache
    from openreel.train.config import load_config
    from openreel.train.loop import load_base

    cache = out / "t2v-cache"
    cache_sets = [f"data.limit={count}"]
    workers = max(1, (os.cpu_count() or 2) - 1)
    cfg = load_config(T2V_CONFIG, sets + cache_sets + [f"data.workers={workers}"])
    model = load_base(cfg, torch.device(device()))
    build_cache(model, cfg, cache, batch_size=64)
    log(f"t2v: rendered and encoded {count} clips into {cache}")
    return cache_sets + [f'data.cache="{cache}"']


def psnr_db(squared_error) -> float:
    """PSNR of 8-bit pixels from their squared errors (a numpy array)."""
    import numpy as np

    return float(10 * np.log10(255**2 / max(squared_error.mean(), 1e-10)))


def check_vae(model_dir: Path, count: int, size: int = 128, suite: str = "heldout") -> dict:
    """Reconstruct `suite`'s world clips with MODEL's VAE (posterior mean) and score them."""
    import torch

    from openreel.models.bundle import load_model
    from openreel.sampling.loop import to_uint8
    from openreel.train.data import channels_first, to_model_range

    model = load_model(model_dir, device=device())

    def reconstruct(frames):  # (T, H, W, 3) uint8 -> the same
        x = to_model_range(channels_first(frames)[None], model.device)  # (1, 3, T, H, W)
        with torch.no_grad():
            return to_uint8(model.vae.decode(model.vae.encode(x).latent_dist.mean).sample)

    return check_reconstructions(reconstruct, count, size, suite)


def check_blur(sigma: float, count: int, size: int = 128, suite: str = "heldout") -> dict:
    """The same check on the originals blurred by a Gaussian of `sigma` px: a yardstick for how
    sharp a reconstruction must be for the evaluator to read shape, size and motion."""
    import torch
    import torch.nn.functional as F

    half = max(1, round(3 * sigma))
    g = torch.exp(-torch.arange(-half, half + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    g = (g / g.sum()).expand(3, 1, 1, 2 * half + 1)  # separable: rows, then columns

    def blur(frames):  # (T, H, W, 3) uint8 -> the same
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
        x = F.conv2d(F.pad(x, [half, half, 0, 0], mode="replicate"), g, groups=3)
        x = F.conv2d(F.pad(x, [0, 0, half, half], mode="replicate"), g.transpose(2, 3), groups=3)
        return x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()

    return check_reconstructions(blur, count, size, suite) | {"blur_sigma_px": sigma}


def heldout_samples(count: int, size: int) -> list:
    """The first `count` held-out world clips (seed HELDOUT_SEED, 2 s at `size`x`size`): what every check scores."""
    from openreel.eval.suite import HELDOUT_SEED

    return world_samples(HELDOUT_SEED, count, size)


def world_samples(seed: int, count: int, size: int) -> list:
    """World stream `seed`'s first `count` clips, 2 s at `size`x`size`: the scenes of a suite's prompts."""
    from openreel.world.dataset import make_sample
    from openreel.world.sampler import SceneDist

    dist = SceneDist(size=size, seconds={2.0: 1.0})
    return [make_sample(seed, i, dist) for i in range(count)]


def check_reconstructions(reconstruct, count: int, size: int = 128, suite: str = "heldout") -> dict:
    """Score `reconstruct` on `suite`'s world clips (held-out: seed HELDOUT_SEED; seen: the scenes the
    transformer trained on, what a model fitted to them is judged against), `size`x`size`x33: median
    PSNR, object-pixel PSNR, how many reconstructions (and originals) pass the evaluator, and the share
    of object-frames whose shape survives (by size: the finer measure of how a VAE draws outlines)."""
    import numpy as np

    from openreel.eval.frame_shape import frame_shapes, shape_accuracy
    from openreel.eval.score import CHECKS, score_clip
    from openreel.eval.suite import SUITES

    psnr, object_psnr, passed, truth, failed, shapes = [], [], 0, 0, dict.fromkeys(CHECKS, 0), []
    for sample in world_samples(SUITES[suite], count, size):
        recon = reconstruct(sample.frames)
        original = sample.frames.astype(np.float64)  # (T, H, W, 3)
        err = (recon - original) ** 2
        # Objects are a few % of the pixels: whole-frame PSNR mostly scores the background.
        objects = np.abs(original - np.median(original.reshape(-1, 3), axis=0)).sum(-1) > 30  # (T, H, W)
        psnr.append(psnr_db(err))
        object_psnr.append(psnr_db(err[objects]))
        score = score_clip(recon, sample.scene)
        passed += score.passed
        for name in CHECKS:
            failed[name] += score.check_passed(name) is False
        truth += score_clip(sample.frames, sample.scene).passed
        shapes += frame_shapes(sample.frames, recon, sample.scene)
    return {"suite": suite, "clips": count, "size": size, "psnr_db_median": float(np.median(psnr)),
            "object_psnr_db_mean": float(np.mean(object_psnr)), "recon_pass": passed / count,
            "original_pass": truth / count, "clips_failing": {k: v for k, v in failed.items() if v},
            "frame_shape": shape_accuracy(shapes)}


def check_text(model_dir: Path, count: int) -> dict:
    """How much MODEL reads its prompt: flow loss on `count` (at least 2) held-out clips with their own captions
    vs each other's, per σ (openreel.eval.text_use). Half the captions English, half Chinese."""
    import torch

    from openreel.eval.text_use import caption_gain
    from openreel.models.bundle import load_model
    from openreel.train.data import channels_first, to_model_range
    from openreel.train.loop import encode_video

    model = load_model(model_dir, device=device())
    d = model.defaults
    samples = heldout_samples(max(2, count), d.width)
    clips = [to_model_range(channels_first(s.frames[:d.frames])[None], model.device) for s in samples]
    latents = torch.cat([encode_video(model.vae, clip) for clip in clips])  # (count, C, T', H', W')
    captions = [s.captions["en" if i % 2 == 0 else "zh"][0] for i, s in enumerate(samples)]
    return {"clips": len(samples), "per_sigma": {str(k): {n: round(v, 5) for n, v in row.items()}
                                          for k, row in caption_gain(model, latents, captions).items()}}


def check_renoise(model_dir: Path, count: int) -> dict:
    """At which noise level MODEL loses the objects of `count` held-out clips: renoised to each σ in
    openreel.eval.renoise.STARTS, denoised with their own caption (20 UniPC steps, guidance 5), scored."""
    from openreel.eval.renoise import renoise_scores
    from openreel.models.bundle import load_model

    model = load_model(model_dir, device=device())
    samples = heldout_samples(count, model.defaults.width)
    return {"clips": count, "per_start": {str(k): {n: round(v, 3) for n, v in row.items()}
                                          for k, row in renoise_scores(model, samples).items()}}


def check_generation(model_dir: Path, count: int, steps: int = 10, guidance: float = 5.0,
                     suite: str = "heldout") -> dict:
    """Generate `suite`'s first `count` prompts (as `openreel eval` does) and score them: pass rate,
    per check, and the share of object-frames whose asked-for shape the generated object reads as
    (`frame_shape` against the scene the prompt came from: read where that scene shows the object
    whole, so it also counts an object drawn in the wrong place as long as its colour's blob reads)."""
    from openreel.eval.frame_shape import frame_shapes, shape_accuracy
    from openreel.eval.score import CHECKS, score_clip
    from openreel.eval.suite import SUITES, suite_prompts
    from openreel.models.bundle import load_model
    from openreel.request import Settings
    from openreel.sampling.loop import sample_video
    from openreel.world.parse import parse_caption

    model = load_model(model_dir, device=device())
    d = model.defaults
    passed, per_check, shapes = 0, {c: [] for c in CHECKS}, []
    started = time.monotonic()
    for item, sample in zip(suite_prompts(suite, count), world_samples(SUITES[suite], count, d.width)):
        s = Settings(prompt=item.prompt, negative_prompt="", width=d.width, height=d.height, frames=d.frames,
                     fps=d.fps, steps=steps, guidance=guidance, seed=item.seed, solver="unipc", shift=d.shift,
                     text_len=d.text_len)
        video = sample_video(model, s)  # (T, H, W, 3) uint8
        score = score_clip(video, parse_caption(item.prompt))
        passed += score.passed
        for c in CHECKS:
            if (ok := score.check_passed(c)) is not None:
                per_check[c].append(ok)
        shapes += frame_shapes(sample.frames[:len(video)], video, sample.scene)  # a model may make fewer frames
    return {"suite": suite, "prompts": count, "pass": passed / count, "steps": steps, "guidance": guidance,
            "seconds_per_clip": (time.monotonic() - started) / count,
            "per_check": {c: sum(v) / len(v) for c, v in per_check.items() if v},
            "frame_shape": shape_accuracy(shapes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, help="training budget for both stages together")
    parser.add_argument("--vae-share", type=float, default=0.4, help="fraction of the budget for the VAE")
    parser.add_argument("--out", type=Path, help="folder for runs and exported models")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="override for both stages")
    parser.add_argument("--vae-set", action="append", default=[], help="override for the VAE stage")
    parser.add_argument("--t2v-set", action="append", default=[], help="override for the transformer stage")
    parser.add_argument("--vae-from", type=Path, help="continue from the VAE in DIR/vae (e.g. checkpoints/default-vae);"
                                                      " with --vae-share 0 use it as it is")
    parser.add_argument("--t2v-from", type=Path, metavar="MODEL",
                        help="skip the VAE stage: train MODEL's transformer and text encoder further, on its VAE")
    parser.add_argument("--check", type=int, default=24, help="held-out clips/prompts to score at the end")
    parser.add_argument("--probe-steps", type=int, default=60, help="steps of each throughput probe")
    parser.add_argument("--t2v-cache", type=int, default=0, metavar="N",
                        help="train the transformer from N world clips rendered and VAE-encoded once (0: on the fly)")
    parser.add_argument("--check-vae", type=Path, metavar="MODEL", help="only score MODEL's VAE on --check clips")
    parser.add_argument("--check-text", type=Path, metavar="MODEL",
                        help="only measure how much MODEL reads its prompt, on --check held-out clips")
    parser.add_argument("--check-renoise", type=Path, metavar="MODEL",
                        help="only score MODEL on --check held-out clips renoised to sigma 0.6..1 and denoised")
    parser.add_argument("--check-generate", type=Path, metavar="MODEL",
                        help="only generate --check prompts of --check-suite with MODEL and score them")
    parser.add_argument("--check-suite", choices=["heldout", "seen"], default="heldout",
                        help="the suite --check-generate draws its prompts from, --check-vae and --check-blur"
                             " their clips")
    parser.add_argument("--check-steps", type=int, default=10, help="sampling steps of --check-generate")
    parser.add_argument("--check-blur", type=float, metavar="SIGMA",
                        help="only score the --check clips blurred by SIGMA px (what a VAE must beat)")
    parser.add_argument("--check-size", type=int, default=128, metavar="PX",
                        help="frame side of the square clips --check-vae / --check-blur score (at least 64)")
    args = parser.parse_args()
    if args.check_size < 64:
        parser.error(f"--check-size must be at least 64 (px), the evaluator's smallest frame; got {args.check_size}")
    if args.check_vae:
        print(json.dumps(check_vae(args.check_vae, args.check, args.check_size, args.check_suite), indent=2))
        return
    if args.check_text:
        print(json.dumps(check_text(args.check_text, args.check), indent=2))
        return
    if args.check_renoise:
        print(json.dumps(check_renoise(args.check_renoise, args.check), indent=2))
        return
    if args.check_generate:
        print(json.dumps(check_generation(args.check_generate, args.check, args.check_steps,
                                          suite=args.check_suite), indent=2))
        return
    if args.check_blur is not None:
        if args.check_blur <= 0:
            parser.error("--check-blur must be greater than 0 (px)")
        print(json.dumps(check_blur(args.check_blur, args.check, args.check_size, args.check_suite), indent=2))
        return
    if args.minutes is None or args.out is None:
        parser.error("--minutes and --out are required to train")
    if args.probe_steps < 2:
        parser.error("--probe-steps must be at least 2")

    import torch

    from openreel.train.config import load_config
    from openreel.train.export import export

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    report = {"minutes": args.minutes, "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}
    vae_sets = args.sets + args.vae_set
    if args.t2v_from and (args.vae_from or args.vae_set):
        parser.error("--t2v-from keeps its model's VAE: drop --vae-from / --vae-set")
    if args.t2v_from:
        args.vae_share = 0.0
    if args.vae_from:
        preset = load_config(VAE_CONFIG, vae_sets).model.base  # the architecture the config names
        vae_sets += [f'model.base="{start_from_vae(args.vae_from, out / "vae-start", preset)}"']
    if args.vae_share > 0:
        stage("vae", VAE_CONFIG, vae_sets, out / "vae", args.minutes * args.vae_share, args.probe_steps)
        vae_model = export(out / "vae", out / "vae-model", force=True)
    elif args.vae_from:
        vae_model = out / "vae-start"
    elif args.t2v_from:
        vae_model = args.t2v_from
    else:
        parser.error("--vae-share 0 needs --vae-from")
    report["vae"] = check_vae(vae_model, args.check)
    log(f"vae check: {report['vae']}")
    t2v_sets = args.sets + args.t2v_set + [f'model.base="{vae_model}"']
    t2v_minutes = args.minutes * (1 - args.vae_share)
    if args.t2v_cache:
        started = time.monotonic()
        t2v_sets += cached_dataset(out, args.t2v_cache, t2v_sets)
        t2v_minutes -= (time.monotonic() - started) / 60
    stage("t2v", T2V_CONFIG, t2v_sets, out / "t2v", t2v_minutes, args.probe_steps)
    export(out / "t2v", out / "model", force=True, name="openreel-shapes-v1")
    export(out / "t2v", out / "model-fp16", force=True, name="openreel-shapes-v1", dtype=torch.float16)
    report["text"] = check_text(out / "model", args.check)
    log(f"text check: {report['text']}")
    report["renoise"] = check_renoise(out / "model", args.check)
    log(f"renoise check: {report['renoise']}")
    (out / "report.json").write_text(json.dumps(report, indent=2))
    report["generation"] = check_generation(out / "model", args.check)
    log(f"generation check: {report['generation']}")
    (out / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

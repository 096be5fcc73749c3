"""The training loop, one for every kind of run: `vae`, `t2v` (transformer, optionally the text
encoder too) and `lora` (adapters on a loaded model's transformer).

Distributed through Accelerate: the same code runs on one CPU, under `torchrun`, or under
`accelerate launch` on many GPUs (DDP). Each step:

    1. take this process's slice of the next global batch (per micro-batch, `grad_accum` of them)
    2. compute the loss (flow matching, or reconstruction + KL) and backpropagate
    3. clip gradients, AdamW step, learning-rate schedule, EMA update
    4. log; every `sample_every` steps render samples; every `save_every` steps checkpoint
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from openreel.errors import InvalidInput
from openreel.models.bundle import VideoModel, build_preset, load_model
from openreel.text.encode import encode_prompts
from openreel.train import checkpoint as ckpt
from openreel.train.config import OptimSection, TrainConfig
from openreel.train.data import loader, make_source, to_model_range
from openreel.train.monitor import Monitor
from openreel.train.objective import Autoencode, flow_batch, flow_loss, latent_foreground, vae_loss

KINDS = ("vae", "t2v", "lora")


class EMA:
    """Exponential moving average of the trainable parameters, kept in fp32 by name."""

    def __init__(self, named: dict[str, torch.nn.Parameter], decay: float):
        self.decay = decay
        self.shadow = {n: p.detach().float().clone() for n, p in named.items()}

    @torch.no_grad()
    def update(self, named: dict[str, torch.nn.Parameter]) -> None:
        for n, p in named.items():
            self.shadow[n].lerp_(p.detach().float(), 1 - self.decay)

    @torch.no_grad()
    def load(self, shadow: dict[str, torch.Tensor], named: dict[str, torch.nn.Parameter]) -> None:
        """Take saved averages onto each parameter's device: safetensors loads them to the CPU, and a
        resumed GPU run's first update would mix devices."""
        for n, p in named.items():
            self.shadow[n] = shadow[n].to(p.device, torch.float32)

    @torch.no_grad()
    def swap(self, named: dict[str, torch.nn.Parameter]) -> None:
        """Exchange live and EMA weights (call twice to restore)."""
        for n, p in named.items():
            live = p.detach().float().clone()
            p.copy_(self.shadow[n])
            self.shadow[n] = live


@dataclass
class Run:
    kind: str
    cfg: TrainConfig
    model: VideoModel
    trainable: dict[str, torch.nn.Module]  # modules with trainable parameters, by component name
    named: dict[str, torch.nn.Parameter] = field(default_factory=dict)  # "component.param" → parameter


def build_run(kind: str, cfg: TrainConfig, device: torch.device) -> Run:
    """The base model with the parts this kind of run trains made trainable (the rest frozen)."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(KINDS)}")
    model = load_base(cfg, device)
    check_crop(kind, cfg, model.spatial_multiple)
    for module in model.modules().values():
        module.requires_grad_(False)
    if kind == "vae":
        trainable = {"vae": model.vae}
    elif kind == "t2v":
        trainable = {"transformer": model.transformer}
        if cfg.model.train_text_encoder:
            trainable["text_encoder"] = model.text_encoder
    else:
        add_lora(model, cfg)
        trainable = {"transformer": model.transformer}
    for name, module in trainable.items():
        module.train()
        if kind != "lora":  # full training keeps fp32 weights (AdamW on fp16 ones drops small updates), so a
            module.float().requires_grad_(True)  # folder stored in fp16, like the shipped model, is a base too
    if kind == "vae" and not cfg.vae.train_encoder:
        for part in (model.vae.encoder, model.vae.quant_conv):  # the latent space stays as it is
            part.requires_grad_(False)
    if cfg.run.gradient_checkpointing and kind != "vae":
        model.transformer.enable_gradient_checkpointing()
    named = {f"{c}.{n}": p for c, m in trainable.items() for n, p in m.named_parameters() if p.requires_grad}
    return Run(kind, cfg, model, trainable, named)


def check_crop(kind: str, cfg: TrainConfig, multiple: int) -> None:
    crop = cfg.data.crop
    if crop is None:
        return
    if kind != "vae":
        raise InvalidInput("data.crop", "only VAE training crops: a window cuts captioned objects out of the clip")
    if crop % multiple:
        raise InvalidInput("data.crop", f"must be a multiple of the VAE's {multiple} pixels, got {crop}")


def load_base(cfg: TrainConfig, device: torch.device) -> VideoModel:
    """The model a run starts from: a folder's weights, or a preset initialised from model.seed."""
    base = cfg.model.base
    if Path(base).is_dir():
        return load_model(base, device=device)
    return build_preset(base, seed=cfg.model.seed).to(device)


def add_lora(model: VideoModel, cfg: TrainConfig) -> None:
    from peft import LoraConfig

    lora = cfg.lora
    model.transformer.add_adapter(LoraConfig(r=lora.rank, lora_alpha=lora.alpha or lora.rank,
                                             target_modules=lora.targets, init_lora_weights=True))


def optimizer_for(run: Run) -> torch.optim.Optimizer:
    o = run.cfg.optim
    groups = []
    for component in run.trainable:
        params = [p for n, p in run.named.items() if n.startswith(component + ".")]
        scale = run.cfg.model.text_encoder_lr_scale if component == "text_encoder" else 1.0
        groups.append({"params": params, "lr": o.lr * scale, "base_lr": o.lr * scale, "name": component})
    return torch.optim.AdamW(groups, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay, eps=o.eps)


def lr_factor(step: int, optim: OptimSection, total_steps: int) -> float:
    """Linear warm-up, then constant or a cosine decay to `min_lr_ratio` at `total_steps`.

    A pure function of the step, so a resumed run continues the schedule exactly (no scheduler state).
    """
    warm = optim.warmup_steps
    factor = min(1.0, (step + 1) / warm) if warm else 1.0
    if optim.schedule == "cosine" and step >= warm:
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        factor *= optim.min_lr_ratio + (1 - optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def set_lr(optimizer: torch.optim.Optimizer, step: int, optim: OptimSection, total_steps: int) -> float:
    factor = lr_factor(step, optim, total_steps)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    return optimizer.param_groups[0]["lr"]


def normalise_latents(vae, z: torch.Tensor) -> torch.Tensor:
    c = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean, device=z.device).view(1, c, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=z.device).view(1, c, 1, 1, 1)
    return (z - mean) / std


@torch.no_grad()
def encode_video(vae, frames: torch.Tensor) -> torch.Tensor:
    """Frames (B, 3, T, H, W) in [-1, 1] → normalised posterior means (B, C, T', H', W').

    The mean, not a sample (as Wan's own VAE.encode): a sample adds the posterior's noise to the
    target, and an untrained or weakly regularised VAE's posterior std (~1) drowns the signal.
    """
    return normalise_latents(vae, vae.encode(frames.to(vae.dtype)).latent_dist.mean.float())


def t2v_loss(run: Run, nets: dict, batch: dict) -> tuple[torch.Tensor, dict]:
    m, seed, keys = run.model, run.cfg.run.seed, batch["key"]
    weight = run.cfg.flow.foreground_weight
    if "mean" in batch:  # from the cache: posterior means (and text embeddings unless the encoder trains)
        latents = normalise_latents(m.vae, batch["mean"].to(m.device))
        foreground = batch.get("foreground")
    else:
        pixels = to_model_range(batch["frames"], m.device)
        latents = encode_video(m.vae, pixels)
        foreground = latent_foreground(pixels, m.vae.config.scale_factor_spatial, m.temporal_stride) if weight else None
    if "context" in batch:
        context = batch["context"].to(m.device)
    else:
        encoder = nets.get("text_encoder", m.text_encoder)
        with torch.set_grad_enabled("text_encoder" in nets):
            context = encode_prompts(m.tokenizer, encoder, batch["caption"], m.defaults.text_len)
    fb = flow_batch(latents, keys, run.cfg.flow, seed, m.transformer.config.patch_size,
                    prefix_ok=m.expand_timesteps)
    timestep = fb.timestep if m.expand_timesteps else fb.sigma * 1000
    transformer = nets["transformer"]
    pred = transformer(hidden_states=fb.noisy.to(m.transformer.dtype), timestep=timestep,
                       encoder_hidden_states=context.to(m.transformer.dtype), return_dict=False)[0]
    # flow_loss moves foreground to pred's device
    return flow_loss(pred, fb, foreground, weight, run.cfg.flow.foreground_max_sigma), {}


def step_loss(run: Run, nets: dict, batch: dict) -> tuple[torch.Tensor, dict]:
    if run.kind == "vae":
        frames = to_model_range(batch["frames"], run.model.device)
        return vae_loss(nets["vae"], frames, batch["key"], run.cfg.vae, run.cfg.run.seed)
    return t2v_loss(run, nets, batch)


def tokens_per_sample(run: Run) -> int:
    d = run.cfg.data
    m = run.model
    s, ts = m.vae.config.scale_factor_spatial, m.temporal_stride
    _, ph, pw = m.transformer.config.patch_size
    height, width = (d.crop, d.crop) if d.crop else (d.height, d.width)
    return ((d.frames - 1) // ts + 1) * (height // s // ph) * (width // s // pw)


def train(kind: str, cfg: TrainConfig, *, resume: str | None = None, show_progress: bool = True) -> Path:
    """Run (or continue) a training run; returns the run folder."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    # Accelerate keeps one mixed-precision setting per process and refuses a second; train() is a
    # function that tests, benchmarks and notebooks call again with other settings. Only the
    # precision state is cleared: the process group (PartialState) stays as it is.
    AcceleratorState._reset_state()
    # cpu=True on a machine without CUDA: under torchrun that means multi-process CPU (gloo), not "no".
    accelerator = Accelerator(mixed_precision=cfg.run.mixed_precision, cpu=not torch.cuda.is_available())
    out = Path(cfg.run.out)
    found = ckpt.resolve_resume(out, resume)
    if found is not None:
        check_resumable(ckpt.read_state(found), kind, cfg)
    torch.manual_seed(cfg.model.seed)
    run = build_run(kind, cfg, accelerator.device)
    optimizer = optimizer_for(run)
    ema = EMA(run.named, cfg.run.ema_decay)
    step, next_batch = 0, 0
    if found is not None:
        base_lrs = [g["base_lr"] for g in optimizer.param_groups]
        state = restore(run, ema, optimizer, found, accelerator.process_index)
        step, next_batch = state["step"], state["next_batch"]
        for group, base_lr in zip(optimizer.param_groups, base_lrs):  # the config's lr wins over the saved one
            group["base_lr"] = base_lr
    names = list(run.trainable)
    forwards = [Autoencode(m) if n == "vae" else m for n, m in run.trainable.items()]  # what DDP wraps
    wrapped = accelerator.prepare(*forwards, optimizer)
    nets, optimizer = dict(zip(names, wrapped[:-1])), wrapped[-1]
    source = make_source(cfg.data, run.model.spatial_multiple)
    cache = open_cache(run) if cfg.data.cache else None
    per_rank = cfg.run.batch_size
    batches = iter(loader(source, cfg.data, seed=cfg.run.seed, start_batch=next_batch,
                          rank=accelerator.process_index, world=accelerator.num_processes, per_rank=per_rank,
                          cache=cache, text_len=run.model.defaults.text_len))
    global_batch = per_rank * accelerator.num_processes * cfg.run.grad_accum
    monitor = Monitor(out, cfg, kind, accelerator.is_main_process, show_progress, start=step)
    monitor.write_config(found)
    deadline = time.monotonic() + cfg.run.max_minutes * 60 if cfg.run.max_minutes else math.inf
    while step < cfg.run.steps:
        started = time.perf_counter()
        lr = set_lr(optimizer, step, cfg.optim, cfg.run.steps)
        loss, parts = train_step(run, nets, batches, optimizer, accelerator)
        ema.update(run.named)
        step += 1
        next_batch += cfg.run.grad_accum
        seconds = time.perf_counter() - started
        monitor.step(step, loss, parts, lr, global_batch / seconds,
                     global_batch * tokens_per_sample(run) / seconds)
        if cfg.run.sample_every and step % cfg.run.sample_every == 0 and accelerator.is_main_process:
            with_ema(run, ema, lambda: monitor.samples(run, step))
        out_of_time = past(deadline, accelerator)
        if step % cfg.run.save_every == 0 or step == cfg.run.steps or out_of_time:
            save(run, ema, optimizer, out, step, next_batch, accelerator, monitor)
        if out_of_time:
            monitor.note(f"run.max_minutes={cfg.run.max_minutes:g} reached at step {step}/{cfg.run.steps}; "
                         "saved, stopping (--resume auto continues)")
            break
    monitor.close()
    del batches  # stop the data workers now, not whenever a later collection finds the loader
    gc.collect()
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return out


def past(deadline: float, accelerator) -> bool:
    """Whether any process is past the deadline: all of them must stop at the same step."""
    late = time.monotonic() > deadline
    if accelerator.num_processes == 1:
        return late
    flag = torch.tensor(float(late), device=accelerator.device)
    return bool(accelerator.reduce(flag, "max").item())


def open_cache(run: Run):
    from openreel.train.cache import CachedClips

    if run.kind == "vae":
        raise InvalidInput("data.cache", "VAE training reads frames; unset data.cache")
    return CachedClips(run.cfg.data.cache, run.model, run.cfg)


def train_step(run: Run, nets: dict, batches, optimizer, accelerator) -> tuple[float, dict]:
    accum = run.cfg.run.grad_accum
    total, parts = torch.zeros((), device=accelerator.device), {}
    for micro in range(accum):
        batch = next(batches)
        sync = micro == accum - 1
        contexts = [accelerator.no_sync(n) for n in nets.values()] if not sync else []
        for c in contexts:
            c.__enter__()
        try:
            with accelerator.autocast():
                loss, extra = step_loss(run, nets, batch)
            accelerator.backward(loss / accum)
        finally:
            for c in reversed(contexts):
                c.__exit__(None, None, None)
        total += loss.detach() / accum
        for k, v in extra.items():
            parts[k] = parts.get(k, 0.0) + float(v) / accum
    accelerator.clip_grad_norm_(list(run.named.values()), run.cfg.optim.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return accelerator.reduce(total, "mean").item(), parts


def with_ema(run: Run, ema: EMA, fn):
    was_training = {n: m.training for n, m in run.trainable.items()}
    ema.swap(run.named)
    for m in run.trainable.values():
        m.eval()
    try:
        return fn()
    finally:
        ema.swap(run.named)
        for n, m in run.trainable.items():
            m.train(was_training[n])


def trainable_state(run: Run, tensors: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    source = tensors if tensors is not None else {n: p.detach() for n, p in run.named.items()}
    return {n: t.detach().cpu().contiguous() for n, t in source.items()}


def save(run: Run, ema: EMA, optimizer, out: Path, step: int, next_batch: int, accelerator, monitor) -> Path:
    state = {"kind": run.kind, "step": step, "next_batch": next_batch, "config": run.cfg.model_dump(mode="json"),
             "base": run.cfg.model.base, "world_size": accelerator.num_processes, "time": time.time(),
             "loss": monitor.last_loss}
    if run.kind == "vae" and run.cfg.vae.train_encoder:
        state["latents_mean"], state["latents_std"] = with_ema(run, ema, lambda: latent_stats(run))
    elif run.kind == "vae":  # a frozen encoder keeps the statistics its transformer was trained with
        state["latents_mean"] = list(run.model.vae.config.latents_mean)
        state["latents_std"] = list(run.model.vae.config.latents_std)
    path = ckpt.save_checkpoint(out, step, weights=trainable_state(run), ema=trainable_state(run, ema.shadow),
                                optimizer=optimizer, state=state, keep_last=run.cfg.run.keep_last,
                                rank=accelerator.process_index, barrier=accelerator.wait_for_everyone)
    monitor.saved(path)
    return path


@torch.no_grad()
def latent_stats(run: Run) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the VAE's posterior means over `stats_batches` batches."""
    cfg = run.cfg
    data = cfg.data.model_copy(update={"crop": None})  # the statistics of whole frames, as generation sees them
    source = make_source(data, run.model.spatial_multiple)
    batches = loader(source, data, seed=cfg.run.seed + 1, start_batch=0, rank=0, world=1,
                     per_rank=cfg.run.batch_size)
    sums, squares, count = 0.0, 0.0, 0
    for _, batch in zip(range(cfg.vae.stats_batches), batches):
        frames = to_model_range(batch["frames"], run.model.device)
        mu = run.model.vae.encode(frames).latent_dist.mean.double()  # (B, C, T, H, W)
        sums = sums + mu.sum(dim=(0, 2, 3, 4))
        squares = squares + (mu**2).sum(dim=(0, 2, 3, 4))
        count += mu.numel() // mu.shape[1]
    mean = sums / count
    std = (squares / count - mean**2).clamp(min=1e-12).sqrt()
    return mean.tolist(), std.tolist()


def restore(run: Run, ema: EMA, optimizer, path: Path, rank: int) -> dict:
    weights, shadow = ckpt.load_weights(path, "weights"), ckpt.load_weights(path, "ema")
    missing = set(run.named) - set(weights)
    if missing:
        raise InvalidInput("resume", f"{path} lacks {len(missing)} trainable tensors, e.g. {sorted(missing)[0]}")
    with torch.no_grad():
        for n, p in run.named.items():
            p.copy_(weights[n])
    ema.load(shadow, run.named)
    return ckpt.load_training_state(path, optimizer, rank)


def check_resumable(state: dict, kind: str, cfg: TrainConfig) -> None:
    if state["kind"] != kind:
        raise InvalidInput("resume", f"the checkpoint is from a {state['kind']} run, not {kind}")
    before = state["config"]["model"]
    if before["base"] != cfg.model.base or before["seed"] != cfg.model.seed:
        raise InvalidInput("resume", f"the checkpoint started from model.base={before['base']!r} "
                                     f"(seed {before['seed']}); this config says {cfg.model.base!r}")


def read_run_state(path: Path) -> tuple[Path, dict]:
    """A run folder or a checkpoint → (checkpoint path, its state)."""
    found = ckpt.resolve_resume(Path(path), str(path))
    return found, ckpt.read_state(found)

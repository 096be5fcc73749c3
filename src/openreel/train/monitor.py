"""Watching a run: progress bar, metrics.jsonl (and TensorBoard when installed), a loss-curve PNG,
and sample videos with contact sheets. Only the main process writes; the others stay quiet.

    runs/<name>/config.json   the resolved config      runs/<name>/metrics.jsonl  one line per step
    runs/<name>/loss.png      the loss curve           runs/<name>/samples/step-000500/*.mp4, *.png
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from openreel.train.config import TrainConfig


class Monitor:
    def __init__(self, out: Path, cfg: TrainConfig, kind: str, main: bool, show_progress: bool, start: int):
        self.out, self.cfg, self.kind, self.main, self.verbose = out, cfg, kind, main, show_progress
        self.last_loss = float("nan")
        self.bar = self.tb = None
        if not main:
            return
        out.mkdir(parents=True, exist_ok=True)
        self.metrics = (out / "metrics.jsonl").open("a", encoding="utf-8")
        if show_progress and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=cfg.run.steps, initial=start, desc=f"train {kind}", unit="step")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:  # tensorboard is optional
            pass

    def write_config(self, resumed_from: Path | None) -> None:
        if self.main:
            info = {"kind": self.kind, "config": self.cfg.model_dump(mode="json"),
                    "resumed_from": str(resumed_from) if resumed_from else None}
            (self.out / "config.json").write_text(json.dumps(info, indent=2, ensure_ascii=False))

    def step(self, step: int, loss: float, parts: dict, lr: float, samples_per_s: float, tokens_per_s: float) -> None:
        self.last_loss = loss
        if not self.main:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{samples_per_s:.2f}")
        if step % self.cfg.run.log_every and step != self.cfg.run.steps:
            return
        row = {"step": step, "loss": loss, "lr": lr, "samples_per_s": samples_per_s, "tokens_per_s": tokens_per_s,
               "time": time.time(), **{k: float(v) for k, v in parts.items()}}
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "time"):
                    self.tb.add_scalar(k, v, step)
        if self.bar is None and self.verbose:  # not a terminal: one line per logged step
            print(f"step {step}/{self.cfg.run.steps} loss {loss:.4f} lr {lr:.2e} {samples_per_s:.2f} samples/s",
                  file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if self.main:
            if self.bar is not None:
                self.bar.write(text)
            else:
                print(text, file=sys.stderr, flush=True)

    def saved(self, path: Path) -> None:
        if self.main:
            plot_loss(self.out / "metrics.jsonl", self.out / "loss.png")

    def samples(self, run, step: int) -> None:
        """t2v/lora: generate the sample prompts; vae: reconstruct clips. MP4 + PNG sheet each."""
        folder = self.out / "samples" / f"step-{step:06d}"
        if self.kind == "vae":
            reconstruction_samples(run, folder)
        else:
            generation_samples(run, folder)

    def close(self) -> None:
        if self.main:
            self.metrics.close()
            if self.bar is not None:
                self.bar.close()
            if self.tb is not None:
                self.tb.close()
            plot_loss(self.out / "metrics.jsonl", self.out / "loss.png")


def generation_samples(run, folder: Path) -> None:
    from openreel.generator import Generator

    d = run.cfg.data
    gen = Generator(run.model)
    for i, prompt in enumerate(run.cfg.run.sample_prompts):
        video = gen.generate(prompt, seed=i, size=f"{d.width}x{d.height}", frames=d.frames, fps=d.fps,
                             steps=run.cfg.run.sample_steps)
        video.save(folder / f"{i:02d}.mp4", sheet=True)


def reconstruction_samples(run, folder: Path) -> None:
    import numpy as np
    import torch

    from openreel.sampling.loop import to_uint8
    from openreel.train.data import make_source, to_model_range
    from openreel.video.io import contact_sheet, write_mp4, write_png

    source = make_source(run.cfg.data, run.model.spatial_multiple)
    vae = run.model.vae
    for i in range(min(2, len(source))):
        frames = to_model_range(source.clip(i).frames[None], run.model.device)  # (1, 3, T, H, W)
        with torch.no_grad():
            recon = vae.decode(vae.encode(frames).latent_dist.mean).sample
        pair = np.concatenate([to_uint8(frames), to_uint8(recon)], axis=2)  # original | reconstruction
        write_mp4(pair, folder / f"{i:02d}.mp4", fps=run.cfg.data.fps)
        write_png(contact_sheet(pair), folder / f"{i:02d}.png")


def plot_loss(metrics: Path, png: Path) -> None:
    if not metrics.is_file():
        return
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    if len(rows) < 2:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(png.parent.name)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)

"""Should a from-scratch model train its byte-level text encoder jointly, or keep it frozen?

Two identical t2v runs on shapes-world clips differ only in `model.train_text_encoder`. Each is
scored on held-out clips (another data seed) by the flow-matching loss with the right captions and
with captions shuffled across the batch, at the same noise and σ. The gap (shuffled − right) is how
much the model reads the prompt; the right-caption loss is how well it models video.
Results go to benchmarks/results/text_encoder_choice.json.

    python benchmarks/text_encoder_choice.py --steps 300
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from openreel.models import load_model
from openreel.text.encode import encode_prompts
from openreel.train.config import load_config
from openreel.train.data import WorldSource, pick_caption
from openreel.train.export import export
from openreel.train.loop import encode_video
from openreel.train.objective import flow_batch, flow_loss

try:
    from generate import machine
except ImportError:
    from benchmarks.generate import machine


@torch.no_grad()
def held_out_losses(model, cfg, clips: int, batch: int) -> dict:
    source = WorldSource(cfg.data.model_copy(update={"seed": 999, "limit": None, "caption_dropout": 0.0}))
    right, shuffled = [], []
    for start in range(0, clips, batch):
        idx = list(range(start, start + batch))
        items = [source.clip(i) for i in idx]
        frames = torch.stack([c.frames for c in items])
        caps = []
        for i, c in zip(idx, items):
            lang, j = pick_caption({k: len(v) for k, v in c.captions.items()}, source.cfg, 0, i)
            caps.append(c.captions[lang][j])
        keys = torch.tensor(idx)
        latents = encode_video(model.vae, frames)
        fb = flow_batch(latents, keys, cfg.flow, 0, model.transformer.config.patch_size, prefix_ok=False)
        for store, order in ((right, caps), (shuffled, caps[1:] + caps[:1])):
            ctx = encode_prompts(model.tokenizer, model.text_encoder, order, model.defaults.text_len)
            pred = model.transformer(hidden_states=fb.noisy, timestep=fb.timestep, encoder_hidden_states=ctx,
                                     return_dict=False)[0]
            store.append(flow_loss(pred, fb).item())
    r, s = sum(right) / len(right), sum(shuffled) / len(shuffled)
    return {"loss_right_captions": r, "loss_shuffled_captions": s, "caption_gain": s - r}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--eval-clips", type=int, default=64)
    args = ap.parse_args()
    results = {"benchmark": "text_encoder_choice", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "settings": vars(args), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for joint in (False, True):
            name = "joint" if joint else "frozen"
            overrides = [f"model.base={args.preset}", f"data.width={args.size}", f"data.height={args.size}",
                         "data.frames=9", f"run.batch_size={args.batch}", f"run.steps={args.steps}",
                         "optim.lr=1e-3", "optim.warmup_steps=20", f"model.train_text_encoder={str(joint).lower()}",
                         f"run.save_every={args.steps}", f'run.out="{Path(tmp) / name}"', "run.log_every=10"]
            from openreel.train.loop import train

            cfg = load_config(None, overrides)
            train("t2v", cfg, show_progress=False)
            model = load_model(export(Path(tmp) / name, Path(tmp) / f"{name}-model"))
            results["runs"][name] = held_out_losses(model, cfg, args.eval_clips, args.batch)
            print(name, results["runs"][name], flush=True)
    out = Path(__file__).parent / "results" / "text_encoder_choice.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

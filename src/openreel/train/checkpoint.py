"""Checkpoints: everything a run needs to continue exactly, with no pickle anywhere.

    runs/<name>/checkpoints/step-000500/
        weights.safetensors     trainable modules, prefixed "transformer." / "text_encoder." / "vae."
        ema.safetensors         EMA weights (same keys)
        optimizer.safetensors   AdamW moments; optimizer.json holds param groups and step counts
        state.json              step, data position, lr schedule, config, base model, metrics
        rng-rank<r>.safetensors torch / numpy / python RNG states of every process

A checkpoint is written into `step-N.tmp/` and renamed when complete, so a crash never leaves a
half checkpoint under a real name; `last` always names the newest complete one; only the newest
`keep_last` are kept.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from openreel.errors import InvalidInput


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / "checkpoints" / f"step-{step:06d}"


def list_checkpoints(out: Path) -> list[Path]:
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and not p.suffix)


def resolve_resume(out: Path, resume: str | None) -> Path | None:
    """`auto`: the newest checkpoint of this run, or none; a path: that checkpoint (or run)."""
    if resume is None or resume == "never":
        return None
    if resume == "auto":
        found = list_checkpoints(out)
        return found[-1] if found else None
    path = Path(resume)
    if (path / "state.json").is_file():
        return path
    found = list_checkpoints(path)
    if found:
        return found[-1]
    raise InvalidInput("resume", f"{path} is neither a checkpoint nor a run with checkpoints")


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state dict into tensors (safetensors) and the rest (JSON)."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta["scalars"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    np_state = np.random.get_state()
    tensors["numpy.keys"] = torch.from_numpy(np_state[1].astype(np.int64))
    py_state = random.getstate()
    meta = {"numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
            "python": [py_state[0], list(py_state[1]), py_state[2]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(t for t in tensors if t.startswith("cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, tensors["numpy.keys"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(out: Path, step: int, *, weights: dict[str, torch.Tensor], ema: dict[str, torch.Tensor] | None,
                    optimizer: torch.optim.Optimizer, state: dict, keep_last: int, rank: int,
                    barrier) -> Path:
    """Write step `step`'s checkpoint (rank 0 writes shared files, every rank its RNG), atomically."""
    final = checkpoint_dir(out, step)
    tmp = final.with_suffix(".tmp")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    rng_tensors, rng_meta = rng_state()
    digest = weights_digest(weights)  # every rank's own weights: replicas must agree
    save_file(rng_tensors, tmp / f"rng-rank{rank}.safetensors",
              metadata={"meta": json.dumps(rng_meta), "weights_sha256": digest})
    barrier()
    if rank == 0:
        check_replicas(tmp, digest)
        save_file(weights, tmp / "weights.safetensors")
        if ema is not None:
            save_file(ema, tmp / "ema.safetensors")
        opt_tensors, opt_meta = optimizer_tensors(optimizer)
        save_file(opt_tensors, tmp / "optimizer.safetensors")
        (tmp / "optimizer.json").write_text(json.dumps(opt_meta))
        (tmp / "state.json").write_text(json.dumps(state, indent=2, ensure_ascii=False))
    barrier()
    if rank == 0:
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        _point_last(out, final)
        for old in list_checkpoints(out)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def weights_digest(weights: dict[str, torch.Tensor]) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in sorted(weights):
        h.update(name.encode())
        h.update(weights[name].contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def replica_digests(path: Path) -> dict[int, str]:
    """Each process's digest of its trainable weights at this checkpoint, by rank."""
    from safetensors import safe_open

    digests = {}
    for f in sorted(path.glob("rng-rank*.safetensors")):
        with safe_open(f, "pt") as handle:
            digests[int(f.stem.removeprefix("rng-rank"))] = handle.metadata()["weights_sha256"]
    return digests


def check_replicas(path: Path, expected: str) -> None:
    """Data-parallel replicas must hold identical weights; a mismatch means the run is broken."""
    bad = {r: d for r, d in replica_digests(path).items() if d != expected}
    if bad:
        raise RuntimeError(f"replicas diverged: ranks {sorted(bad)} hold different weights than rank 0")


def _point_last(out: Path, final: Path) -> None:
    link = out / "last"
    tmp_link = out / ".last.tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(final.relative_to(out))
    tmp_link.replace(link)  # atomic swap of the symlink


def read_state(path: Path) -> dict:
    return json.loads((path / "state.json").read_text(encoding="utf-8"))


def load_weights(path: Path, name: str = "weights") -> dict[str, torch.Tensor]:
    return load_file(path / f"{name}.safetensors")


def load_training_state(path: Path, optimizer: torch.optim.Optimizer, rank: int) -> dict:
    tensors = load_file(path / "optimizer.safetensors")
    load_optimizer(optimizer, tensors, json.loads((path / "optimizer.json").read_text()))
    rng_file = path / f"rng-rank{rank}.safetensors"
    if rng_file.is_file():
        from safetensors import safe_open

        with safe_open(rng_file, "pt") as f:
            meta = json.loads(f.metadata()["meta"])
        set_rng_state(load_file(rng_file), meta)
    return read_state(path)

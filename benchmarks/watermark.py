"""Watermark benchmark -> benchmarks/results/watermark.json.

Measures, with real H.264 through PyAV (no ffmpeg binary needed):
- robustness matrix: CRF 18/23/28 x (none | 0.5x down-and-up) x (none | 10 % centre crop) x
  (full | first second), plus a half-size re-encode without upscaling (`scale=iw/2:-2`); per cell
  payload recovery rate and payload bit accuracy, on shapes-world clips (every background) and a
  dense moving texture;
- false positives on unmarked clips (shapes-world renders, noise, texture), all re-encoded;
- PSNR cost of the mark, and embed / detect CPU time per frame at 256x256 and 832x480.

Every watermarked clip goes through what `Video.save` does (embed, H.264 CRF 18) before the attack.

    python benchmarks/watermark.py                 # full run (several minutes on 2 cores)
    python benchmarks/watermark.py --quick         # a smaller run for a smoke check
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

import numpy as np

from openreel.provenance import watermark as wm
from openreel.provenance.stamp import psnr
from openreel.provenance.transcode import attack
from openreel.video.io import read_video, write_mp4

FPS = 16
OUT = Path(__file__).parent / "results" / "watermark.json"


def shapes_clip(rng: np.random.Generator, size: int, seconds: float = 2.0,
                aspect: str = "1:1") -> tuple[str, np.ndarray]:
    from openreel.world.physics import simulate
    from openreel.world.render import render
    from openreel.world.sampler import SceneDist, sample_scene

    scene = sample_scene(rng, SceneDist(size=size, seconds={seconds: 1.0}, aspects={aspect: 1.0}))
    frames = render(scene, simulate(scene))
    h, w = frames.shape[1:3]
    return scene.background, frames[:, : h // 2 * 2, : w // 2 * 2]


def texture_clip(rng: np.random.Generator, height: int, width: int, frames: int = 33) -> np.ndarray:
    """A dense 1/f colour texture panning diagonally: the hard case for an additive mark."""
    big = max(height, width) + 2 * frames
    f = np.fft.fftfreq(big)
    r = np.hypot(f[:, None], f[None, :])
    r[0, 0] = 1.0
    planes = [np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(big, big))) / r**1.2)) for _ in range(3)]
    field = np.stack(planes, -1)
    field = (field - field.min()) / (field.max() - field.min()) * 255
    return np.stack([field[t:t + height, 2 * t:2 * t + width] for t in range(frames)]).astype(np.uint8)


def noise_clip(rng: np.random.Generator, size: int, frames: int = 17) -> np.ndarray:
    return rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8)


def h264(frames: np.ndarray, crf: int, tmp: Path) -> np.ndarray:
    write_mp4(frames, tmp, FPS, crf=crf)
    return read_video(tmp).frames


CELLS = [dict(crf=c, down_up_scale=d, crop=k, trim_seconds=t)
         for c, d, k, t in itertools.product((18, 23, 28), (False, True), (0.0, 0.1), (None, 1.0))]
CELLS += [dict(crf=c, scale=0.5) for c in (18, 23, 28)]


def cell_name(cell: dict) -> str:
    parts = [f"crf{cell['crf']}"]
    if cell.get("down_up_scale"):
        parts.append("rescale0.5x")
    if cell.get("scale"):
        parts.append("halfsize")
    if cell.get("crop"):
        parts.append("crop10%")
    if cell.get("trim_seconds"):
        parts.append("trim1s")
    return "+".join(parts)


def robustness(clips: list[tuple[str, np.ndarray]], tmp: Path, rng: np.random.Generator) -> dict:
    results = {cell_name(c): {"ok": 0, "n": 0, "bit_acc": [], "agreement": []} for c in CELLS}
    psnrs: dict[str, list[float]] = {}
    for kind, frames in clips:
        payload = wm.make_payload(int(rng.integers(0, 2**32)))
        marked = wm.embed(frames, payload)
        psnrs.setdefault(kind, []).append(psnr(frames, marked))
        saved = h264(marked, 18, tmp)  # what Video.save writes
        for cell in CELLS:
            attacked = h264(attack(saved, FPS, **cell), cell["crf"], tmp)
            d = wm.detect(attacked)
            r = results[cell_name(cell)]
            r["n"] += 1
            r["ok"] += d.payload == payload
            r["bit_acc"].append(1 - bin(d.guess ^ payload).count("1") / wm.PAYLOAD_BITS)
            r["agreement"].append(d.bit_agreement)
    matrix = {name: {"payload_recovered": r["ok"] / r["n"], "recovered": f"{r['ok']}/{r['n']}",
                     "bit_accuracy_mean": round(float(np.mean(r["bit_acc"])), 4),
                     "bit_accuracy_min": round(float(np.min(r["bit_acc"])), 4),
                     "code_agreement_mean": round(float(np.mean(r["agreement"])), 4)}
              for name, r in results.items()}
    return {"matrix": matrix, "psnr_db": {k: {"mean": round(float(np.mean(v)), 2), "min": round(float(np.min(v)), 2),
                                              "clips": len(v)} for k, v in psnrs.items()}}


def false_positives(n_shapes: int, n_noise: int, n_texture: int, tmp: Path, rng: np.random.Generator) -> dict:
    found, zs, agreements, kinds = 0, [], [], {}
    for kind, count in (("shapes", n_shapes), ("noise", n_noise), ("texture", n_texture)):
        hits = 0
        for _ in range(count):
            if kind == "shapes":
                frames = shapes_clip(rng, 256, seconds=1.0)[1]
            elif kind == "noise":
                frames = noise_clip(rng, 256)
            else:
                frames = texture_clip(rng, 256, 256, frames=17)
            d = wm.detect(h264(frames, 23, tmp))
            hits += d.found
            zs.append(d.sync_z)
            agreements.append(d.bit_agreement)
        kinds[kind] = {"clips": count, "false_positives": hits}
        found += hits
    total = n_shapes + n_noise + n_texture
    return {"clips": total, "false_positives": found, "rate": found / total, "by_kind": kinds,
            "bound_per_clip": wm.MAX_ATTEMPTS * 2.0**-wm.CRC_BITS,
            "max_sync_z_clean": round(float(np.max(zs)), 2),
            "code_agreement_clean_p99": round(float(np.quantile(agreements, 0.99)), 4)}


def timing(rng: np.random.Generator) -> dict:
    """CPU time per frame (process time: robust to other load on the machine)."""
    out = {}
    for h, w in ((256, 256), (480, 832)):
        frames = texture_clip(rng, h, w, frames=33)
        payload = wm.make_payload(1)
        wm.embed(frames[:1], payload)
        t = time.process_time()
        marked = wm.embed(frames, payload)
        embed = (time.process_time() - t) / len(frames)
        t = time.process_time()
        wm.detect(marked)
        found = (time.process_time() - t) / len(frames)
        t = time.process_time()
        wm.detect(frames)
        clean = (time.process_time() - t) / len(frames)
        out[f"{w}x{h}"] = {"embed_ms_per_frame": round(embed * 1000, 2),
                           "detect_ms_per_frame_marked": round(found * 1000, 2),
                           "detect_ms_per_frame_unmarked_both_scales": round(clean * 1000, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips (a smoke check)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    tmp = Path(f"/tmp/openreel-wm-bench-{time.time_ns()}.mp4")
    n = 4 if args.quick else 1
    started = time.time()
    shapes = [shapes_clip(rng, 256) for _ in range(32 // n)]
    textured = [("texture", texture_clip(rng, 256, 256)) for _ in range(8 // n)]
    wide = [shapes_clip(rng, 480, aspect="16:9") for _ in range(6 // n)]
    wide += [("texture", texture_clip(rng, 480, 832)) for _ in range(2 // n or 1)]
    small = [shapes_clip(rng, 128) for _ in range(12 // n)] + [shapes_clip(rng, 192) for _ in range(12 // n)]
    report = {
        "what": "invisible watermark: robustness, false positives, PSNR cost, speed (benchmarks/watermark.py)",
        "design": {"tile_px": wm.TILE, "chip_px": wm.CHIP, "min_side_px": wm.MIN_SIDE, "payload_bits": wm.PAYLOAD_BITS,
                   "crc_bits": wm.CRC_BITS, "code": "convolutional K=7 rate 1/3, soft Viterbi",
                   "coded_bits": wm.CODED_BITS, "sync_chips": wm.SYNC_CHIPS, "strength_rms_luma": wm.DEFAULT_STRENGTH,
                   "small_frame_boost_max": wm.SMALL_FRAME_BOOST,
                   "detection_scales": list(wm.SCALES), "max_decode_attempts": wm.MAX_ATTEMPTS},
        "attacks": "PyAV: decode the CRF-18 output, swscale bicubic for scaling, centre crop, first-second trim, "
                   "one libx264 re-encode at the cell's CRF (preset medium)",
        "robustness_256": robustness(shapes + textured, tmp, rng),
        "robustness_832x480": robustness(wide, tmp, rng),
        "robustness_128_and_192": robustness(small, tmp, rng),
        "false_positives": false_positives(700 // n, 200 // n, 100 // n, tmp, rng),
        "timing_cpu": timing(rng),
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "seconds": None,
    }
    report["seconds"] = round(time.time() - started, 1)
    tmp.unlink(missing_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("false_positives", "timing_cpu", "seconds")}, indent=2))


if __name__ == "__main__":
    main()

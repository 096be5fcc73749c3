"""Watermark: payload coding, embedding, robustness through real H.264, false positives, small frames."""

from __future__ import annotations

import numpy as np
import pytest

from openreel.provenance import watermark as wm
from openreel.provenance.stamp import psnr
from openreel.provenance.transcode import attack
from openreel.video.io import read_video, write_mp4


def h264(frames: np.ndarray, crf: int, tmp_path) -> np.ndarray:
    path = write_mp4(frames, tmp_path / f"crf{crf}.mp4", 16, crf=crf)
    return read_video(path).frames


def test_payload_code_round_trip_and_corrects_errors():
    payload = wm.make_payload(0xDEADBEEF)
    assert payload >> 32 == wm.OPENREEL_GENERATOR_ID and wm.format_payload(payload) == "0x3a9fdeadbeef"
    code = wm.encode_payload(payload)
    assert code.shape == (wm.CODED_BITS,)
    rng = np.random.default_rng(0)
    noisy = code.astype(np.float64).copy()
    flipped = rng.choice(len(code), 20, replace=False)  # ~10 % of the code symbols wrong
    noisy[flipped] *= -1
    assert wm.decode_payload(noisy)[0] == payload
    assert wm.decode_payload(code * 0.01)[0] == payload  # scale-free soft decoding


def test_crc_rejects_random_input():
    rng = np.random.default_rng(1)
    hits = sum(wm.decode_payload(rng.normal(size=wm.CODED_BITS))[0] is not None for _ in range(300))
    assert hits == 0  # expected 300 x 2^-16 = 0.005


def test_embed_is_invisible_enough_and_detected(clip):
    payload = wm.make_payload(12345)
    marked = wm.embed(clip, payload)
    assert marked.shape == clip.shape and marked.dtype == np.uint8
    assert 37.0 < psnr(clip, marked) < 45.0
    d = wm.detect(marked)
    assert d.found and d.payload == payload and d.content_id == 12345 and d.generator_id == 0x3A9F
    assert d.frames_voted == len(clip) and d.confidence > 0.9999 and d.scale == 1
    assert not wm.detect(clip).found


@pytest.mark.parametrize("cell", [
    dict(crf=18),
    dict(crf=23, crop=0.1),
    dict(crf=28),
    dict(crf=28, down_up_scale=True, crop=0.1, trim_seconds=1.0),
    dict(crf=28, scale=0.5),  # ffmpeg -crf 28 -vf scale=iw/2:-2: half size, not scaled back
], ids=["crf18", "crf23+crop", "crf28", "crf28+rescale+crop+trim", "crf28+halfsize"])
def test_survives_reencoding(cell, clip, tmp_path):
    payload = wm.make_payload(0x0BADF00D)
    saved = h264(wm.embed(clip, payload), 18, tmp_path)  # what Video.save writes
    attacked = h264(attack(saved, 16, **cell), cell["crf"], tmp_path)
    d = wm.detect(attacked)
    assert d.payload == payload, d
    if "scale" in cell:
        assert d.scale == 2 and attacked.shape[1] == clip.shape[1] // 2
    if "trim_seconds" in cell:
        assert d.frames_voted == 16


def test_wrong_key_finds_nothing(clip):
    marked = wm.embed(clip[:9], wm.make_payload(1))
    assert wm.detect(marked, key="some-operator-secret").found is False


def test_false_positive_rate_on_unmarked_clips(make_clip, tmp_path):
    """200 clean clips (shapes-world renders and noise), re-encoded: no payload may decode.

    The bound is 8 attempts x 2^-16 = 1.2e-4 per clip; benchmarks/watermark.py runs 1 000 clips.
    """
    rng = np.random.default_rng(5)
    found = 0
    for i in range(150):
        found += wm.detect(h264(make_clip(1000 + i, seconds=1.0), 23, tmp_path)).found
    for _ in range(50):
        found += wm.detect(h264(rng.integers(0, 256, (9, 256, 256, 3), dtype=np.uint8), 23, tmp_path)).found
    assert found == 0


def test_frames_below_the_minimum_are_refused():
    with pytest.raises(wm.WatermarkUnavailable, match=r"16x16 is smaller than the watermark's minimum 128x128"):
        wm.embed(np.zeros((9, 16, 16, 3), np.uint8), wm.make_payload(1))
    wm.embed(np.zeros((1, 128, 128, 3), np.uint8), wm.make_payload(1))  # exactly one tile is enough


def test_black_and_white_frames_keep_the_mark(tmp_path):
    """At 0 or 255 half of each chip would clip away; the other half is doubled instead."""
    for level in (0, 255):
        frames = np.full((17, 256, 256, 3), level, np.uint8)
        payload = wm.make_payload(777)
        d = wm.detect(h264(wm.embed(frames, payload), 28, tmp_path))
        assert d.payload == payload, (level, d)

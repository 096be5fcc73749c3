"""End to end: Generator -> Video.save (watermarked, signed, recorded) -> `openreel verify` and its exit codes."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from openreel.provenance.stamp import ProvenanceError
from openreel.provenance.transcode import transcode
from openreel.provenance.verify import verify_file
from openreel.video.io import read_video, write_mp4

SMALL = dict(size="128x128", frames=9, steps=2)  # the watermark's minimum size, seconds on CPU


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_generator):
    """One generated, saved video, with the config and data dirs it was made under."""
    base = tmp_path_factory.mktemp("verify")
    env = {"OPENREEL_CONFIG_DIR": str(base / "config"), "OPENREEL_DATA_DIR": str(base / "data")}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("OPENREEL_WATERMARK_UNAVAILABLE", raising=False)  # the default: fail rather than not mark
        video = tiny_generator.generate("a blue ball rolls right", seed=1, **SMALL)
        video.save(base / "v.mp4")
    return base / "v.mp4", env, video


@pytest.fixture
def dirs(saved, monkeypatch):
    for k, v in saved[1].items():
        monkeypatch.setenv(k, v)
    return saved[0]


def invoke(capsys, *args):
    from openreel.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["verify", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_saved_video_is_signed_watermarked_and_recorded(saved, dirs, capsys):
    path, _, video = saved
    prov = video.record.provenance
    assert prov.watermark.state == "embedded" and prov.watermark.payload.startswith("0x3a9f")
    assert prov.c2pa.state == "signed" and not prov.c2pa.manifest_prompt
    assert prov.c2pa.signer == "OpenReel local signer"
    assert 30 < prov.watermark.psnr_db < 50  # the tiny model draws noise: busy frames get the stronger mark
    assert read_video(path).record["provenance"]["watermark"]["payload"] == prov.watermark.payload
    code, out, _ = invoke(capsys, str(path))
    assert code == 0
    assert out.strip() == (f"v.mp4: C2PA: trusted (OpenReel local signer) · watermark: {prov.watermark.payload} "
                           f"(confidence 1.0000, 9 frames voted) · record found")


def test_json_report(saved, dirs, capsys):
    path, _, video = saved
    code, out, _ = invoke(capsys, "--json", str(path))
    report = json.loads(out)
    assert code == 0 and report["verdict"] == "verified" and report["exit_code"] == 0
    assert report["c2pa"]["state"] == "trusted"
    assert report["c2pa"]["generator"]["model"]["weights_sha256"] == video.record.model.weights_sha256
    assert "prompt" not in report["c2pa"]["generator"]["settings"]
    assert report["watermark"]["content_id"] == video.record.provenance.watermark.content_id
    assert report["record"]["settings"]["prompt"] == "a blue ball rolls right"  # the local record


def test_reencoded_copy_loses_the_manifest_but_not_the_watermark(saved, dirs, tmp_path, capsys):
    path, _, video = saved
    copy = transcode(path, tmp_path / "w.mp4", crf=28, scale=0.5)  # ffmpeg -crf 28 -vf scale=iw/2:-2
    report = verify_file(copy)
    assert report.c2pa.state == "missing"
    assert report.watermark.state == "found" and report.watermark.payload == video.record.provenance.watermark.payload
    assert report.record is not None and report.exit_code == 0


def test_tampered_file_exits_3(saved, dirs, tmp_path, capsys):
    data = bytearray(saved[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    code, out, _ = invoke(capsys, str(tampered))
    assert code == 3 and "C2PA: INVALID (content hash mismatch)" in out


def test_elsewhere_signed_video_is_untrusted_but_watermark_verifies(saved, tmp_path, capsys):
    """Another machine (fresh config dir) trusts its own root only; the watermark still says OpenReel."""
    report = verify_file(saved[0])
    assert report.c2pa.state == "untrusted" and report.watermark.state == "found"
    assert report.record is None and report.exit_code == 0


def test_plain_video_exits_2_and_worst_file_decides(saved, dirs, tmp_path, capsys):
    plain = write_mp4(np.random.default_rng(0).integers(0, 256, (9, 128, 128, 3), dtype=np.uint8),
                      tmp_path / "plain.mp4", 16)
    code, out, _ = invoke(capsys, str(plain))
    assert code == 2 and out.strip() == "plain.mp4: C2PA: missing · watermark: not found (9 frames) · no local record"
    code, out, _ = invoke(capsys, str(saved[0]), str(plain))
    assert code == 2 and len(out.strip().splitlines()) == 2
    code, _, err = invoke(capsys, str(tmp_path / "nope.mp4"))
    assert code == 2 and "no file at" in err
    (tmp_path / "notes.txt").write_text("hello")
    code, out, _ = invoke(capsys, str(tmp_path / "notes.txt"))  # not a video: nothing found, not "tampered"
    assert code == 2 and "C2PA: missing" in out and "watermark: not checked" in out


def test_small_frames_fail_by_default(tiny_generator, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENREEL_WATERMARK_UNAVAILABLE")  # the test suite's "mark" off: the real default
    video = tiny_generator.generate("a red ball", seed=0, size="16x16", frames=9, steps=2)
    with pytest.raises(ProvenanceError, match="16x16 is smaller than the watermark's minimum 128x128"):
        video.save(tmp_path / "v.mp4")
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.iterdir())  # nothing half-written


def test_small_frames_when_configured_say_not_watermarked(tiny_generator, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENREEL_WATERMARK_UNAVAILABLE", "mark")
    video = tiny_generator.generate("a red ball", seed=0, size="16x16", frames=9, steps=2)
    video.save(tmp_path / "v.mp4")
    stamp = video.record.provenance.watermark
    assert stamp.state == "not watermarked" and "16x16 is smaller" in stamp.reason and stamp.payload is None
    code, out, _ = invoke(capsys, str(tmp_path / "v.mp4"))
    assert code == 0  # the signed manifest still verifies
    assert ("watermark: not watermarked (frame 16x16 is smaller than the watermark's minimum 128x128)" in out
            and "record found" in out)


def test_manifest_prompt_opt_in_and_saving_twice_keeps_the_content_id(saved, tmp_path):
    video = copy.deepcopy(saved[2])
    video.record.provenance = None  # as if never saved
    video.save(tmp_path / "a.mp4")
    first = video.record.provenance.watermark.content_id
    video.save(tmp_path / "b.mp4", manifest_prompt=True)
    assert video.record.provenance.watermark.content_id == first
    report = verify_file(tmp_path / "b.mp4")
    assert report.c2pa.generator["settings"]["prompt"] == "a blue ball rolls right"
    assert "prompt" not in verify_file(tmp_path / "a.mp4").c2pa.generator["settings"]


def test_signing_can_be_disabled_in_config(saved, tmp_path, provenance_dirs):
    config, _ = provenance_dirs
    config.mkdir(parents=True)
    (config / "provenance.toml").write_text("[signing]\nenabled = false\n")
    video = copy.deepcopy(saved[2])
    video.save(tmp_path / "v.mp4")
    assert video.record.provenance.c2pa.state == "unsigned"
    report = verify_file(tmp_path / "v.mp4")
    assert report.c2pa.state == "missing" and report.watermark.state == "found" and report.exit_code == 0


def test_cli_generate_flags(tiny_folder, tmp_path, capsys):
    from openreel.cli import main

    out = tmp_path / "v.mp4"
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "a red ball", "--model", str(tiny_folder), "--size", "128x128", "--frames", "5",
              "--steps", "2", "--manifest-prompt", "-q", "-o", str(out)])
    assert exit_info.value.code == 0
    report = verify_file(out)
    assert report.verdict == "verified" and report.c2pa.generator["settings"]["prompt"] == "a red ball"

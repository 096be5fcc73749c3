"""MP4 / GIF / PNG writers: real H.264 through PyAV, atomic, with metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from openreel.video.io import RECORD_KEY, contact_sheet, read_video, remux, write_gif, write_mp4, write_png


def moving_square(t=9, h=32, w=48):
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        frames[i, 8:24, 2 + 3 * i : 18 + 3 * i] = (230, 40, 40)
    return frames


def test_mp4_round_trip_is_h264_and_close(tmp_path):
    frames = moving_square()
    path = write_mp4(frames, tmp_path / "v.mp4", fps=16, crf=12, metadata={RECORD_KEY: json.dumps({"a": "黑色"})})
    video = read_video(path)
    assert video.frames.shape == frames.shape and video.fps == 16
    assert np.abs(video.frames.astype(int) - frames).mean() < 3
    assert video.record == {"a": "黑色"}
    import av

    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_remux_keeps_packets_and_sets_metadata(tmp_path):
    src = write_mp4(moving_square(), tmp_path / "a.mp4", fps=16)
    dst = remux(src, tmp_path / "b.mp4", {RECORD_KEY: '{"x": 1}'})
    assert np.array_equal(read_video(src).frames, read_video(dst).frames)
    assert read_video(dst).record == {"x": 1}


def test_mp4_rejects_odd_sizes_and_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="even width and height, got 47x32"):
        write_mp4(moving_square(w=47), tmp_path / "v.mp4", fps=16)
    with pytest.raises(ValueError, match="uint8"):
        write_mp4(moving_square().astype(np.float32), tmp_path / "v.mp4", fps=16)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_mp4(np.zeros((4, 4, 3), np.uint8), tmp_path / "v.mp4", fps=16)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_gif_and_sheet(tmp_path):
    frames = moving_square()
    gif = Image.open(write_gif(frames, tmp_path / "v.gif", fps=16))
    assert gif.n_frames == 9 and gif.size == (48, 32)
    sheet = contact_sheet(frames, count=4, columns=2, gap=2)
    assert sheet.shape == (2 * 32 + 2, 2 * 48 + 2, 3)
    assert np.array_equal(sheet[:32, :48], frames[0]) and np.array_equal(sheet[34:, 50:], frames[-1])
    assert Image.open(write_png(sheet, tmp_path / "s.png")).size == (98, 66)


def test_written_files_get_the_usual_permissions(tmp_path):
    path = write_mp4(moving_square(), tmp_path / "v.mp4", fps=16)
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask

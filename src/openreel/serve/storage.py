"""Where results live: `<data>/videos/<id>/{video.mp4, video.json, thumbnail.png, spritesheet.png}`.

A worker renders into `<data>/tmp/<id>.<worker>.<attempt>/` and publishes by renaming that folder
onto `<data>/videos/<id>/` (one `rename`, so readers see all files or none). Paths are built only
from server-made job ids, checked against a strict pattern, and resolved inside the data
directory: nothing a client sends becomes part of a path.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ID_PATTERN = re.compile(r"video_[0-9a-f]{32}")
VARIANTS = {  # variant -> (file, media type)
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.png", "image/png"),
    "spritesheet": ("spritesheet.png", "image/png"),
}
RECORD_FILE = "video.json"


def safe_name(worker: str) -> str:
    """A worker id as it appears in scratch folder names."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", worker)


def valid_id(job_id: str) -> bool:
    return ID_PATTERN.fullmatch(job_id) is not None


class VideoStore:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir).resolve()
        self.videos = self.root / "videos"
        self.tmp = self.root / "tmp"
        for folder in (self.root, self.videos, self.tmp):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def folder(self, job_id: str) -> Path:
        return self._inside(self.videos / self._checked(job_id))

    def file(self, job_id: str, variant: str) -> Path:
        return self.folder(job_id) / VARIANTS[variant][0]

    def scratch(self, job_id: str, worker: str, attempt: int) -> Path:
        """A fresh, empty folder for one attempt's files; earlier attempts' folders go (their workers lost the job)."""
        for old in self.tmp.glob(f"{self._checked(job_id)}.*"):
            shutil.rmtree(old, ignore_errors=True)
        folder = self._inside(self.tmp / f"{job_id}.{safe_name(worker)}.{attempt}")
        folder.mkdir(mode=0o700)
        return folder

    def publish(self, scratch: Path, job_id: str) -> Path:
        """Move an attempt's folder into place (replacing leftovers of a crashed attempt) and fsync."""
        final = self.folder(job_id)
        if final.exists():
            shutil.rmtree(final)
        os.rename(scratch, final)
        fd = os.open(self.videos, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return final

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def stored_ids(self) -> list[str]:
        return [p.name for p in self.videos.iterdir() if valid_id(p.name)]

    def scratch_folders(self) -> list[tuple[Path, str, str]]:
        """(folder, job id, safe_name(worker)) for every attempt folder under tmp/."""
        out = []
        for p in self.tmp.iterdir():
            parts = p.name.split(".")
            if len(parts) == 3 and valid_id(parts[0]):
                out.append((p, parts[0], parts[1]))
        return out

    @staticmethod
    def _checked(job_id: str) -> str:
        if not valid_id(job_id):
            raise ValueError(f"not a video id: {job_id!r}")
        return job_id

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise ValueError(f"{path} is outside the data directory")
        return resolved

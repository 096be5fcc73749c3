"""OpenReel: open text-to-video.

    from openreel import Generator
    video = Generator.from_pretrained("tiny").generate("a red ball bounces", seed=0)
    video.save("ball.mp4")
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Generator", "Video", "__version__"]


def __getattr__(name: str):
    # Importing torch takes seconds; `import openreel` (and `openreel --help`) should not.
    if name in ("Generator", "Video"):
        from openreel import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'openreel' has no attribute {name!r}")

"""Scoring videos against shapes-world scene descriptions (spec section 7).

    from openreel.eval import score_clip, EvalItem, evaluate, write_report

    score = score_clip(frames, parse_caption("a small red ball falls and bounces"))
    score.passed, score.failures()

Attributes are imported on first use, so `import openreel.eval` stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "score_clip": "score", "score_video": "score", "ClipScore": "score", "ObjectScore": "score", "Check": "score",
    "CHECKS": "score", "EvalItem": "report", "Report": "report", "aggregate": "report", "evaluate": "report",
    "write_report": "report", "make_pair": "mismatch",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"openreel.eval.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'openreel.eval' has no attribute {name!r}")

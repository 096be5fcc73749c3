"""Captions in English and Chinese from templates with synonyms and varied word order.

A caption is one clause per object ("a small red ball falls and bounces"; a colliding pair
shares one: "a red ball and a blue box collide"), clauses in random order joined by varied
connectors, and the background named (before or after, or not at all: then it is unconstrained).
"medium" is usually left out. Every caption parses back to the scene (see parse.py).
"""

from __future__ import annotations

import numpy as np

from openreel.world import lexicon as lx
from openreel.world.scene import Scene, SceneObject

LANGS = ("en", "zh")
P_BACKGROUND = 0.8  # share of captions that name the background
P_MEDIUM = 0.15  # share of medium-sized objects whose size is named


def _pick(rng: np.random.Generator, options):
    return options[rng.integers(len(options))]


# -- English ---------------------------------------------------------------------------------


def _en_object(rng: np.random.Generator, o: SceneObject) -> str:
    words = []
    if o.size != "medium" or rng.random() < P_MEDIUM:
        words.append(_pick(rng, lx.EN_SIZES_GEN[o.size]))
    words += [o.color, _pick(rng, lx.EN_SHAPES_GEN[o.shape])]
    article = "an" if words[0][0] in "aeiou" else "a"
    return " ".join([article] + words)


def _en_join(rng: np.random.Generator, clauses: list[str]) -> str:
    if len(clauses) == 1:
        return clauses[0]
    if len(clauses) == 2:
        a, b = clauses
        return _pick(rng, [f"{a} while {b}", f"{a}, and {b}", f"{a}; meanwhile {b}", f"{a} as {b}",
                           f"{a}, while {b}"])
    a, b, c = clauses
    return _pick(rng, [f"{a}, {b}, and {c}", f"{a}, {b} while {c}", f"{a} while {b}, and {c}",
                       f"{a}; {b}; meanwhile {c}"])


def _en_caption(rng: np.random.Generator, scene: Scene) -> str:
    clauses = []
    pair = [o for o in scene.objects if o.motion == "collide"]
    for o in scene.objects:
        if o.motion != "collide":
            clauses.append(f"{_en_object(rng, o)} {_pick(rng, lx.EN_MOTIONS_GEN[o.motion])}")
    if pair:
        a, b = (pair if rng.random() < 0.5 else pair[::-1])
        clauses.append(f"{_en_object(rng, a)} and {_en_object(rng, b)} {_pick(rng, lx.EN_COLLIDE_GEN)}")
    order = rng.permutation(len(clauses))
    body = _en_join(rng, [clauses[i] for i in order])
    if scene.background is not None and rng.random() < P_BACKGROUND:
        bg = _pick(rng, lx.EN_BACKGROUNDS_GEN[scene.background])
        style = rng.integers(4)
        if style == 0:
            body = f"on a {bg} background, {body}"
        elif style == 1:
            body = f"against a {bg} background, {body}"
        elif style == 2:
            body = f"{body} on a {bg} background"
        else:
            body = f"{body}. The background is {bg}"
    text = body[0].upper() + body[1:]
    return text + "." if rng.random() < 0.5 else text


# -- Chinese ---------------------------------------------------------------------------------


def _zh_object(rng: np.random.Generator, o: SceneObject) -> str:
    noun = _pick(rng, lx.ZH_SHAPES_GEN[o.shape])
    color = lx.ZH_COLORS_GEN[o.color][0]
    size = "" if o.size == "medium" and rng.random() >= P_MEDIUM else lx.ZH_SIZES_GEN[o.size][0]
    style = rng.integers(3)
    if len(size) > 1:  # 中等大小 goes first: 中等大小的红色方块
        body = f"{size}的{color}{noun}"
    elif style == 0:
        body = f"{color}的{size}{noun}"  # 红色的小球
    elif style == 1 and size:
        body = f"{size}的{color}{noun}"  # 小的红色球
    elif noun in ("球", "方块"):
        body = f"{size}{lx.ZH_COLORS_SHORT[o.color]}{noun}"  # 小红球
    else:
        body = f"{size}{color}{noun}"  # 大红色三角形
    return ("一个" if rng.random() < 0.8 else "") + body


def _zh_join(rng: np.random.Generator, clauses: list[str]) -> str:
    if len(clauses) == 1:
        return clauses[0]
    if len(clauses) == 2:
        a, b = clauses
        return _pick(rng, [f"{a}，同时{b}", f"{a}，{b}", f"{a}；{b}", f"{a}，而{b}"])
    a, b, c = clauses
    return _pick(rng, [f"{a}，{b}，同时{c}", f"{a}，{b}，{c}", f"{a}；{b}；{c}"])


def _zh_caption(rng: np.random.Generator, scene: Scene) -> str:
    clauses = []
    pair = [o for o in scene.objects if o.motion == "collide"]
    for o in scene.objects:
        if o.motion != "collide":
            clauses.append(_zh_object(rng, o) + _pick(rng, lx.ZH_MOTIONS_GEN[o.motion]))
    if pair:
        a, b = (pair if rng.random() < 0.5 else pair[::-1])
        clauses.append(f"{_zh_object(rng, a)}和{_zh_object(rng, b)}{_pick(rng, lx.ZH_COLLIDE_GEN)}")
    order = rng.permutation(len(clauses))
    body = _zh_join(rng, [clauses[i] for i in order])
    if scene.background is not None and rng.random() < P_BACKGROUND:
        bg = lx.ZH_BACKGROUNDS_GEN[scene.background][0]
        style = rng.integers(4)
        if style == 0:
            body = f"{bg}背景上，{body}"
        elif style == 1:
            body = f"在{bg}的背景上，{body}"
        elif style == 2:
            body = f"{body}，背景是{bg}"
        else:
            body = f"{body}（{bg}背景）"
    return body + "。" if rng.random() < 0.5 else body


def caption(scene: Scene, rng: np.random.Generator, lang: str = "en") -> str:
    """One caption of the scene in `lang` ("en" or "zh")."""
    if lang == "en":
        return _en_caption(rng, scene)
    if lang == "zh":
        return _zh_caption(rng, scene)
    raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")


def captions(scene: Scene, rng: np.random.Generator, lang: str = "en", count: int = 3) -> list[str]:
    """`count` different captions when the templates allow (a few tries each), in draw order."""
    out: list[str] = []
    for _ in range(count * 8):
        text = caption(scene, rng, lang)
        if text not in out:
            out.append(text)
        if len(out) == count:
            break
    return out

"""Caption -> scene description, for captions in the world's vocabulary (English or Chinese).

Two steps. `tokenize` splits the text into known phrases by longest match (English over words,
Chinese over characters; a caption may mix both), and collects everything it does not know into
one error that names the words. `parse_caption` then reads the phrases with a tiny grammar: size
and colour words gather until a shape word closes an object; a motion word applies to the
objects named since the last motion ("a red ball and a blue box collide"); a background colour
anywhere sets the background. An object with no motion is still; no background: unconstrained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from openreel.errors import InvalidInput
from openreel.world import lexicon as lx
from openreel.world.scene import Scene, SceneObject, validate

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")


@dataclass(frozen=True)
class Token:
    text: str
    kind: str  # one of lexicon.KINDS
    ident: str | None


@lru_cache(maxsize=None)
def _lexicon(lang: str) -> tuple[dict[tuple[str, ...] | str, tuple[str, str | None]], int]:
    table = lx.lexicon(lang)
    if lang == "en":
        keyed = {tuple(phrase.split()): v for phrase, v in table.items()}
        return keyed, max(len(k) for k in keyed)
    return dict(table), max(len(k) for k in table)


def detect_lang(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _tokenize_en(text: str, unknown: list[str]) -> list[Token]:
    table, longest = _lexicon("en")
    text = text.lower().replace("\u2019", "'").replace("-", " ")
    words = re.findall(r"[a-z']+|[0-9]+|[^\sa-z'0-9]", text)
    words = [w for w in words if re.match(r"[a-z'0-9]", w)]  # punctuation separates, means nothing
    tokens, i = [], 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            key = tuple(words[i : i + n])
            if key in table:
                kind, ident = table[key]
                tokens.append(Token(" ".join(key), kind, ident))
                i += n
                break
        else:
            unknown.append(words[i])
            i += 1
    return tokens


def _tokenize_zh(text: str, unknown: list[str]) -> list[Token]:
    table, longest = _lexicon("zh")
    tokens, i, run = [], 0, ""
    while i < len(text):
        if text[i] in lx.ZH_PUNCT:
            i += 1
            if run:
                unknown.append(run)
                run = ""
            continue
        for n in range(min(longest, len(text) - i), 0, -1):
            if text[i : i + n] in table:
                if run:
                    unknown.append(run)
                    run = ""
                kind, ident = table[text[i : i + n]]
                tokens.append(Token(text[i : i + n], kind, ident))
                i += n
                break
        else:
            run += text[i]
            i += 1
    if run:
        unknown.append(run)
    return tokens


def tokenize(text: str) -> list[Token]:
    """Known phrases of a caption in order; InvalidInput naming every unknown word."""
    tokens: list[Token] = []
    unknown: list[str] = []
    pos = 0
    for m in _CJK.finditer(text):  # alternate Latin and CJK runs
        tokens += _tokenize_en(text[pos : m.start()], unknown)
        tokens += _tokenize_zh(m.group(), unknown)
        pos = m.end()
    tokens += _tokenize_en(text[pos:], unknown)
    if unknown:
        words = ", ".join(repr(w) for w in dict.fromkeys(unknown))
        raise InvalidInput("caption", f"unknown word{'s' if len(set(unknown)) > 1 else ''} {words}; "
                                      "the shapes world knows its colours, shapes, sizes, motions and backgrounds only")
    return tokens


def parse_caption(text: str) -> Scene:
    """A caption in the world's vocabulary -> scene description (no geometry, no initial state)."""
    if not text or not text.strip():
        raise InvalidInput("caption", "empty")
    background: str | None = None
    objects: list[dict] = []
    pending: list[dict] = []  # objects named since the last motion
    current: dict[str, str] = {}  # size / colour words waiting for their shape word
    partner_wanted = False  # "a red ball collides with a blue box": the next object collides too

    def fail(message: str) -> None:
        raise InvalidInput("caption", f"{message} in {text!r}")

    for tok in tokenize(text):
        if tok.kind == "background":
            if background not in (None, tok.ident):
                fail(f"two backgrounds ({background}, {tok.ident})")
            background = tok.ident
        elif tok.kind in ("size", "color"):
            if tok.kind in current:
                fail(f"two {tok.kind}s for one object ({current[tok.kind]!r}, {tok.text!r})")
            current[tok.kind] = tok.ident
        elif tok.kind == "shape":
            if "color" not in current:
                fail(f"the {tok.text!r} has no colour (every object is named by its colour)")
            obj = {"shape": tok.ident, "color": current["color"], "size": current.get("size", "medium")}
            objects.append(obj)
            if partner_wanted:
                obj["motion"], partner_wanted = "collide", False
            else:
                pending.append(obj)
            current = {}
        elif tok.kind == "motion":
            if current:
                fail(f"{' '.join(current.values())!r} has no shape word")
            if not pending:
                fail(f"the motion {tok.text!r} has no object before it")
            for obj in pending:
                obj["motion"] = tok.ident
            partner_wanted = tok.ident == "collide" and len(pending) == 1
            pending = []
    if current:
        fail(f"{' '.join(current.values())!r} has no shape word")
    if not objects:
        fail("no object")
    scene = Scene(tuple(SceneObject(**{"motion": "still", **o}) for o in objects), background)
    return validate(scene)

"""The prompt policy, checked before any generation (`Generator.resolve`: CLI, Python API and server).

Categories (each can be switched off in `provenance.toml`): sexual content involving minors,
non-consensual intimate imagery, impersonating a real person (deepfake requests), graphic
violence. Term lists in English and Chinese ship as package data (`data/policy_*.toml`); an
operator file in the same format extends them (new terms, new categories, allow phrases).

Matching works on normalised text so that trivial obfuscation does not slip through:
- NFKC (full-width letters and digits become ASCII), case-folding, accents dropped;
- English: whole words (so "therapist" never matches "rapist"), plus views with leetspeak undone
  (0->o, 1->i, 3->e, 4->a, 5->s, 7->t, @->a, $->s) and with letters split by spaces, dots or
  dashes re-joined ("n a k e d", "n.a.k.e.d", "na-ked");
- Chinese: substrings after removing every space and punctuation mark ("裸 体" -> "裸体"), with
  the "色" of colour words dropped first ("红色情景" is "red scene", not "色情").

A refusal raises `PolicyViolation` naming the category and appends one JSON line to
`<data>/policy-audit.jsonl`: time, category, field, SHA-256 of the prompt, the matched terms,
and the prompt itself only when `policy.audit_prompt` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path

from openreel.errors import InvalidInput, PolicyViolation
from openreel.provenance.config import PolicyConfig, data_dir, load_config

AUDIT_LOG = "policy-audit.jsonl"
LANGS = ("en", "zh")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
WORD = re.compile(r"[a-z0-9@$]+")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
COLOUR = re.compile(r"([红橙黄绿青蓝紫粉黑白灰棕褐金银彩颜米])色")
# punctuation inside a word: "n.a.k.e.d", "na-ked", "s_e_x" (spaces: see _join_single_letters)
SPLIT_LETTERS = re.compile(r"(?<=[a-z0-9@$])[.\-_*·'`]+(?=[a-z0-9@$])")


@dataclass
class Rule:
    """One category in one language: `any` term refuses; all `groups` matching refuses."""

    category: str
    description: str
    lang: str
    any: list[tuple[str, ...]] = field(default_factory=list)
    groups: list[list[tuple[str, ...]]] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    category: str
    description: str
    matched: tuple[str, ...]


class Policy:
    def __init__(self, rules: list[Rule]):
        self.rules = rules

    def check(self, text: str) -> Verdict | None:
        """The first category the text falls under, or None."""
        base = normalise(text)
        views = {"en": None, "zh": None}
        for rule in self.rules:
            if rule.lang == "zh":
                views["zh"] = views["zh"] if views["zh"] is not None else _zh_view(base)
                matched = _match_zh(rule, views["zh"])
            else:
                matched = _match_en(rule, _en_views(base, tuple(rule.allow)))
            if matched:
                return Verdict(rule.category, rule.description, matched)
        return None


def normalise(text: str) -> str:
    """NFKC, case-fold, accents and zero-width characters dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", re.sub(r"[\u200b-\u200f\u2060\ufeff\u00ad]", "", text))


@lru_cache(maxsize=256)
def _en_views(text: str, allow: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Word sequences: as written, leetspeak undone, split letters re-joined, and both."""
    for phrase in allow:  # "gore tex" also removes "gore-tex" and "Gore.Tex"
        words = WORD.findall(phrase)
        text = re.sub(r"\b" + r"[\s.\-_]+".join(map(re.escape, words)) + r"\b", " ", text)
    joined = SPLIT_LETTERS.sub("", _join_single_letters(text))
    views = []
    for variant in (text, joined):
        words = WORD.findall(variant)
        views.append(tuple(words))
        views.append(tuple(w.translate(LEET) if re.search(r"[a-z]", w) else w for w in words))
    return tuple(dict.fromkeys(views))


def _join_single_letters(text: str) -> str:
    """'n a k e d' -> 'naked': runs of 3+ single letters with one separator throughout, so that
    'b.u.i.l.d a bomb' keeps its 'a' apart and 'a b' stays two words."""
    run = r"\b[a-z0-9@$](?P<sep>[\s.\-_*]+)(?:[a-z0-9@$](?P=sep))+[a-z0-9@$]\b"
    return re.sub(run, lambda m: m.group(0).replace(m.group("sep"), ""), text)


def _zh_view(text: str) -> str:
    text = COLOUR.sub(r"\1", text)
    return "".join(c for c in text if c.isalnum())


def _match_en(rule: Rule, views: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    for words in views:
        hit = [t for t in rule.any if _has_phrase(words, t)]
        if hit:
            return (" ".join(hit[0]),)
        if rule.groups:
            found = [next((t for t in g if _has_phrase(words, t)), None) for g in rule.groups]
            if all(found):
                return tuple(" ".join(t) for t in found)
    return ()


def _has_phrase(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(all(_word_matches(words[i + j], phrase[j]) for j in range(n)) for i in range(len(words) - n + 1))


def _word_matches(word: str, term: str) -> bool:
    if term.endswith("*"):
        return word.startswith(term[:-1])
    return word == term or word in (term + "s", term + "es")


def _match_zh(rule: Rule, text: str) -> tuple[str, ...]:
    for phrase in rule.allow:
        text = text.replace(phrase, "")
    hit = [t[0] for t in rule.any if t[0] in text]
    if hit:
        return (hit[0],)
    if rule.groups:
        found = [next((t[0] for t in g if t[0] in text), None) for g in rule.groups]
        if all(found):
            return tuple(found)
    return ()


# --- loading ------------------------------------------------------------------------------------------

def load_rules(data: dict, lang: str) -> list[Rule]:
    """Rules from one term file's TOML tables (`[category]` with description/any/all/allow)."""
    rules = []
    for category, spec in data.items():
        if not isinstance(spec, dict):
            raise InvalidInput("policy", f"[{category}] must be a table")
        prep = _zh_term if lang == "zh" else _en_term
        rules.append(Rule(category=category, description=spec.get("description", category), lang=lang,
                          any=[prep(t) for t in spec.get("any", [])],
                          groups=[[prep(t) for t in g] for g in spec.get("all", [])],
                          allow=[normalise(a) for a in spec.get("allow", [])]))
    return rules


def _en_term(term: str) -> tuple[str, ...]:
    """'child porn*' -> ('child', 'porn*'): words, a trailing * kept as the prefix marker."""
    return tuple(re.findall(r"[a-z0-9@$]+\*?", normalise(term)))


def _zh_term(term: str) -> tuple[str, ...]:
    return (_zh_view(normalise(term)),)


def _builtin(lang: str) -> dict:
    text = resources.files("openreel.provenance").joinpath("data", f"policy_{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _operator(path: str) -> dict[str, dict]:
    """The operator file: `[en.<category>]` and `[zh.<category>]` tables in the built-in format."""
    p = Path(path).expanduser()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput("policy.terms_file", f"cannot read {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput("policy.terms_file", f"{p} is not valid TOML: {exc}") from None
    unknown = set(data) - set(LANGS)
    if unknown:
        raise InvalidInput("policy.terms_file", f"top-level tables must be {LANGS}, got {sorted(unknown)}")
    return data


def _merge(base: dict, extra: dict) -> dict:
    """Extend each category's lists (new categories are added whole)."""
    merged = {k: dict(v) for k, v in base.items()}
    for category, spec in extra.items():
        target = merged.setdefault(category, {"description": spec.get("description", category)})
        for key in ("any", "all", "allow"):
            target[key] = list(target.get(key, [])) + list(spec.get(key, []))
        if "description" in spec:
            target["description"] = spec["description"]
    return merged


@lru_cache(maxsize=4)
def _compiled(categories: tuple[str, ...], terms_file: str, stamp: float) -> Policy:
    operator = _operator(terms_file) if terms_file else {}
    rules = []
    for lang in LANGS:
        data = _merge(_builtin(lang), operator.get(lang, {}))
        rules += [r for r in load_rules(data, lang) if r.category in categories]
    known = {r.category for r in rules}
    missing = [c for c in categories if c not in known]
    if missing:
        raise InvalidInput("policy.categories", f"no terms for {missing}")
    return Policy(rules)


def policy(config: PolicyConfig) -> Policy:
    stamp = os.path.getmtime(config.terms_file) if config.terms_file and os.path.exists(config.terms_file) else 0.0
    return _compiled(tuple(config.categories), config.terms_file, stamp)


# --- the check ----------------------------------------------------------------------------------------

def check_prompt_policy(prompt: str, *, field: str = "prompt", config: PolicyConfig | None = None) -> None:
    """Raise `PolicyViolation` (and write an audit line) when the prompt falls under a category."""
    config = config or load_config().policy
    if not config.enabled:
        return
    verdict = policy(config).check(prompt)
    if verdict is None:
        return
    audit(prompt, verdict, field, config)
    raise PolicyViolation(field, verdict.category,
                          f"refused by the content policy: {verdict.description} ({verdict.category})")


def audit(prompt: str, verdict: Verdict, field: str, config: PolicyConfig) -> Path:
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "category": verdict.category,
             "field": field, "prompt_sha256": hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
             "matched": list(verdict.matched)}
    if config.audit_prompt:
        entry["prompt"] = prompt
    path = data_dir() / AUDIT_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # one write: lines never interleave
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(line)
    return path

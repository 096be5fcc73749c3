"""Captions (en, zh) and the parser: round trips, synonyms, word order, errors naming words."""

import numpy as np
import pytest

from openreel.errors import InvalidInput
from openreel.world import lexicon, vocab
from openreel.world.captions import caption, captions
from openreel.world.parse import parse_caption, tokenize
from openreel.world.sampler import SceneDist, sample_scene


def key(scene):
    return sorted((o.color, o.shape, o.size, o.motion) for o in scene.objects)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_caption_parse_round_trip(lang):
    for i in range(250):
        scene = sample_scene(np.random.default_rng([21, i]), SceneDist(size=64))
        for text in captions(scene, np.random.default_rng([22, i]), lang, 3):
            parsed = parse_caption(text)
            assert key(parsed) == key(scene), text
            assert parsed.background in (None, scene.background), text


def test_several_varied_captions_per_clip():
    scene = sample_scene(np.random.default_rng(3), SceneDist(size=64, objects={2: 1}))
    for lang in ("en", "zh"):
        texts = captions(scene, np.random.default_rng(0), lang, 5)
        assert len(texts) == 5 and len(set(texts)) == 5
    # word order varies: over many captions each object comes first sometimes
    firsts = set()
    for k in range(40):
        text = caption(scene, np.random.default_rng(k), "en").lower()
        firsts.add(min((text.find(o.color), o.color) for o in scene.objects)[1])
    assert len(firsts) == 2


def test_background_and_medium_size_are_sometimes_left_out():
    scene = sample_scene(np.random.default_rng(8), SceneDist(size=64, objects={1: 1}, sizes={"medium": 1}))
    texts = [caption(scene, np.random.default_rng(k), "en") for k in range(60)]
    words = lexicon.EN_BACKGROUNDS_GEN[scene.background]
    named = [any(w in t.lower() for w in words) for t in texts]
    assert any(named) and not all(named)
    assert not all("medium" in t for t in texts)
    assert all(parse_caption(t).objects[0].size == "medium" for t in texts)


@pytest.mark.parametrize(
    "text,objects,background",
    [
        (
            "a small red ball falls and bounces on a black background",
            [("red", "circle", "small", "fall_bounce")],
            "black",
        ),
        (
            "On a navy background, a blue square slides to the right while a yellow triangle spins clockwise",
            [("blue", "square", "medium", "move_right"), ("yellow", "triangle", "medium", "spin_cw")],
            "navy",
        ),
        ("黑色背景上，一个红色的小球落下并弹起", [("red", "circle", "small", "fall_bounce")], "black"),
        (
            "一个红色的球和一个蓝色的大方块相撞后弹开",
            [("red", "circle", "medium", "collide"), ("blue", "square", "large", "collide")],
            None,
        ),
        (
            "a big green box rotates counter-clockwise against a dark blue backdrop",
            [("green", "square", "large", "spin_ccw")],
            "navy",
        ),
        (
            "深蓝色背景上，小蓝色三角形逆时针旋转，同时粉色圆形变大",
            [("blue", "triangle", "small", "spin_ccw"), ("pink", "circle", "medium", "grow")],
            "navy",
        ),
        ("A cyan ball. The background is grey.", [("cyan", "circle", "medium", "still")], "gray"),
        (
            "a red ball collides with a large blue box while a pink triangle rises",
            [
                ("red", "circle", "medium", "collide"),
                ("blue", "square", "large", "collide"),
                ("pink", "triangle", "medium", "move_up"),
            ],
            None,
        ),
    ],
)
def test_parse_examples(text, objects, background):
    scene = parse_caption(text)
    assert [(o.color, o.shape, o.size, o.motion) for o in scene.objects] == objects
    assert scene.background == background


@pytest.mark.parametrize(
    "text,words",
    [
        ("a red ball jumps happily", ["'jumps'", "'happily'"]),
        ("一个红色的球在跳舞", ["'跳舞'"]),
        ("a red ball 跳舞 on black", ["'跳舞'"]),
    ],
)
def test_unknown_words_are_named(text, words):
    with pytest.raises(InvalidInput) as err:
        parse_caption(text)
    assert err.value.field == "caption"
    for w in words:
        assert w in err.value.message


@pytest.mark.parametrize(
    "text,match",
    [
        ("a ball falls", "no colour"),
        ("a red ball on a black background on a white background", "two backgrounds"),
        ("a red ball spins clockwise", "cannot spin"),
        ("a red ball and a red box collide", "colour identifies"),
        ("a red ball collides", "exactly two"),
        ("falls and bounces", "no object"),
        ("a small red", "no shape"),
    ],
)
def test_grammar_errors_say_what_is_wrong(text, match):
    with pytest.raises(InvalidInput, match=match):
        parse_caption(text)


def test_tokenizer_prefers_the_longest_phrase():
    assert [t.ident for t in tokenize("dark blue") if t.kind != "filler"] == ["navy"]
    assert [t.ident for t in tokenize("深蓝色背景") if t.kind != "filler"] == ["navy"]
    assert [t.ident for t in tokenize("falls and bounces") if t.kind != "filler"] == ["fall_bounce"]
    assert [t.ident for t in tokenize("变大") if t.kind != "filler"] == ["grow"]


def test_lexicon_tables_never_give_one_phrase_two_meanings():
    for lang in ("en", "zh"):
        en = lang == "en"
        tables = [
            (
                "color",
                lexicon.EN_COLORS_GEN if en else lexicon.ZH_COLORS_GEN,
                lexicon.EN_COLORS_ALSO if en else lexicon.ZH_COLORS_ALSO,
            ),
            (
                "background",
                lexicon.EN_BACKGROUNDS_GEN if en else lexicon.ZH_BACKGROUNDS_GEN,
                lexicon.EN_BACKGROUNDS_ALSO if en else lexicon.ZH_BACKGROUNDS_ALSO,
            ),
            (
                "shape",
                lexicon.EN_SHAPES_GEN if en else lexicon.ZH_SHAPES_GEN,
                lexicon.EN_SHAPES_ALSO if en else lexicon.ZH_SHAPES_ALSO,
            ),
            (
                "size",
                lexicon.EN_SIZES_GEN if en else lexicon.ZH_SIZES_GEN,
                lexicon.EN_SIZES_ALSO if en else lexicon.ZH_SIZES_ALSO,
            ),
            (
                "motion",
                lexicon.EN_MOTIONS_GEN if en else lexicon.ZH_MOTIONS_GEN,
                lexicon.EN_MOTIONS_ALSO if en else lexicon.ZH_MOTIONS_ALSO,
            ),
        ]
        seen: dict[str, tuple] = {w: ("filler", None) for w in (lexicon.EN_FILLERS if en else lexicon.ZH_FILLERS)}
        for phrase in lexicon.EN_COLLIDE_GEN if en else lexicon.ZH_COLLIDE_GEN:
            seen[phrase] = ("motion", "collide")
        for kind, gen, also in tables:
            for ident in set(gen) | set(also):
                for phrase in gen.get(ident, []) + also.get(ident, []):
                    assert seen.get(phrase, (kind, ident)) == (kind, ident), (lang, phrase)
                    seen[phrase] = (kind, ident)
        assert set(lexicon.EN_MOTIONS_GEN) | {"collide"} == set(vocab.MOTIONS)

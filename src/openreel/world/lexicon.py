"""Words of the world in English and Chinese.

For each identifier: the phrases captions are generated from (`*_GEN`), and extra phrases the
parser also accepts (`*_ALSO`: plural verb forms, synonyms). Phrases are matched longest first,
so "falls and bounces" wins over "falls", "dark blue" over "blue", "深蓝色" over "蓝色".
English phrases are lower case with hyphens written as spaces ("counter clockwise").
"""

from __future__ import annotations

from openreel.world import vocab

# -- English -----------------------------------------------------------------------------------

EN_COLORS_GEN = {c: [c] for c in vocab.COLORS}
EN_COLORS_ALSO: dict[str, list[str]] = {"purple": ["violet"], "pink": [], "cyan": ["turquoise"]}
EN_BACKGROUNDS_GEN = {
    "black": ["black"],
    "white": ["white"],
    "gray": ["gray", "grey"],
    "navy": ["navy", "navy blue", "dark blue"],
}
EN_BACKGROUNDS_ALSO: dict[str, list[str]] = {}
EN_SHAPES_GEN = {"circle": ["ball", "circle"], "square": ["square", "box", "block"], "triangle": ["triangle"]}
EN_SHAPES_ALSO = {
    "circle": ["disc", "disk", "balls", "circles"],
    "square": ["boxes", "squares", "blocks"],
    "triangle": ["triangles"],
}
EN_SIZES_GEN = {"small": ["small", "little"], "medium": ["medium", "medium sized"], "large": ["large", "big"]}
EN_SIZES_ALSO = {"small": ["tiny"], "medium": ["mid sized", "medium size"], "large": ["huge"]}

# motion -> phrases for a single subject ("a red ball ...")
EN_MOTIONS_GEN = {
    "still": ["stays still", "rests", "sits still", "remains still", "does not move"],
    "move_left": ["moves left", "moves to the left", "slides left", "slides to the left", "travels to the left"],
    "move_right": ["moves right", "moves to the right", "slides right", "slides to the right", "travels to the right"],
    "move_up": ["moves up", "rises", "slides up", "goes up", "moves upward"],
    "move_down": ["moves down", "goes down", "slides down", "sinks", "moves downward"],
    "fall_bounce": [
        "falls and bounces",
        "drops and bounces on the floor",
        "falls and bounces on the floor",
        "falls to the floor and bounces",
        "drops and bounces",
    ],
    "bounce_around": ["bounces around", "bounces off the walls", "bounces around the frame"],
    "spin_cw": ["spins clockwise", "rotates clockwise", "turns clockwise"],
    "spin_ccw": [
        "spins counterclockwise",
        "rotates counterclockwise",
        "spins counter clockwise",
        "rotates anticlockwise",
    ],
    "grow": ["grows", "gets bigger", "grows larger", "expands"],
    "shrink": ["shrinks", "gets smaller", "shrinks down"],
}
# collide takes two subjects ("a red ball and a blue box ...")
EN_COLLIDE_GEN = [
    "collide",
    "crash into each other and bounce apart",
    "collide and bounce apart",
    "move toward each other and collide",
]
EN_MOTIONS_ALSO = {
    "still": [
        "stay still",
        "rest",
        "sit still",
        "sits",
        "sit",
        "remain still",
        "do not move",
        "doesn't move",
        "does not move at all",
        "stays put",
        "is still",
        "is motionless",
        "stays motionless",
        "stands still",
    ],
    "move_left": [
        "move left",
        "move to the left",
        "slide left",
        "slide to the left",
        "goes left",
        "go left",
        "travels left",
        "moves leftward",
        "moves leftwards",
        "drifts left",
        "drifts to the left",
    ],
    "move_right": [
        "move right",
        "move to the right",
        "slide right",
        "slide to the right",
        "goes right",
        "go right",
        "travels right",
        "moves rightward",
        "moves rightwards",
        "drifts right",
        "drifts to the right",
    ],
    "move_up": ["move up", "rise", "slide up", "go up", "moves upwards", "floats up", "drifts up"],
    "move_down": ["move down", "go down", "slide down", "sink", "moves downwards", "drifts down", "descends"],
    "fall_bounce": [
        "fall and bounce",
        "drop and bounce",
        "fall and bounce on the floor",
        "drop and bounce on the floor",
        "falls",
        "drops",
        "fall",
        "drop",
        "bounces on the floor",
        "falls down and bounces",
    ],
    "bounce_around": [
        "bounce around",
        "bounce off the walls",
        "bounces around the screen",
        "ricochets around",
        "ricochets off the walls",
        "bounces off the edges",
    ],
    "spin_cw": ["spin clockwise", "rotate clockwise", "turn clockwise", "spins to the right"],
    "spin_ccw": [
        "spin counterclockwise",
        "rotate counterclockwise",
        "spin counter clockwise",
        "rotates counter clockwise",
        "spins anticlockwise",
        "spins anti clockwise",
        "rotates anti clockwise",
        "turns counterclockwise",
        "turns anticlockwise",
        "spin anticlockwise",
        "rotate anticlockwise",
    ],
    "grow": ["grow", "get bigger", "grow larger", "grows bigger", "expand", "becomes bigger", "becomes larger"],
    "shrink": ["shrink", "get smaller", "shrink down", "becomes smaller"],
    "collide": [
        "crash into each other",
        "collide with each other",
        "bump into each other",
        "collides",
        "collides with",
        "crashes into",
        "bumps into",
        "hits",
        "move towards each other and collide",
        "collide head on",
        "crash together and bounce apart",
    ],
}
EN_FILLERS = [
    "a",
    "an",
    "the",
    "one",
    "on",
    "against",
    "over",
    "in",
    "with",
    "while",
    "as",
    "and",
    "meanwhile",
    "background",
    "backdrop",
    "is",
    "there",
    "it",
    "both",
    "whereas",
    "at the same time",
    "of",
]

# -- Chinese -----------------------------------------------------------------------------------

ZH_COLORS_GEN = {c: [vocab.COLOR_ZH[c]] for c in vocab.COLORS}
ZH_COLORS_SHORT = {
    "red": "红",
    "orange": "橙",
    "yellow": "黄",
    "green": "绿",
    "cyan": "青",
    "blue": "蓝",
    "purple": "紫",
    "pink": "粉",
}  # used before 球 / 方块: 小红球
ZH_COLORS_ALSO = {c: [ZH_COLORS_SHORT[c]] for c in vocab.COLORS}
ZH_COLORS_ALSO["pink"] += ["粉红色", "粉红"]
ZH_BACKGROUNDS_GEN = {b: [vocab.BACKGROUND_ZH[b]] for b in vocab.BACKGROUNDS}
ZH_BACKGROUNDS_ALSO = {"black": ["黑"], "white": ["白"], "gray": ["灰"], "navy": ["深蓝", "藏青色", "藏蓝色"]}
ZH_SHAPES_GEN = {"circle": ["球", "圆形"], "square": ["方块", "正方形"], "triangle": ["三角形"]}
ZH_SHAPES_ALSO = {"circle": ["圆", "圆球"], "square": ["方形"], "triangle": ["三角"]}
ZH_SIZES_GEN = {"small": ["小"], "medium": ["中等大小"], "large": ["大"]}
ZH_SIZES_ALSO = {"small": [], "medium": ["中", "中等", "中号"], "large": []}
ZH_MOTIONS_GEN = {
    "still": ["静止不动", "一动不动", "保持静止"],
    "move_left": ["向左移动", "向左滑动", "往左移动"],
    "move_right": ["向右移动", "向右滑动", "往右移动"],
    "move_up": ["向上移动", "上升", "往上移动"],
    "move_down": ["向下移动", "下降", "往下移动"],
    "fall_bounce": ["落下并弹起", "掉下来并弹起", "落到地面后弹起"],
    "bounce_around": ["四处弹跳", "在画面中来回弹跳", "碰到墙壁就反弹"],
    "spin_cw": ["顺时针旋转", "顺时针转动"],
    "spin_ccw": ["逆时针旋转", "逆时针转动"],
    "grow": ["变大", "逐渐变大", "慢慢变大"],
    "shrink": ["变小", "逐渐变小", "慢慢变小"],
}
ZH_COLLIDE_GEN = ["相撞后弹开", "撞在一起后弹开", "相互碰撞后弹开"]
ZH_MOTIONS_ALSO = {
    "still": ["静止", "不动", "停着不动", "保持不动"],
    "move_left": ["向左移", "向左运动", "往左滑动", "左移", "向左平移"],
    "move_right": ["向右移", "向右运动", "往右滑动", "右移", "向右平移"],
    "move_up": ["向上移", "向上运动", "向上滑动", "往上滑动", "上移", "升起"],
    "move_down": ["向下移", "向下运动", "向下滑动", "往下滑动", "下移"],
    "fall_bounce": ["落下后弹起", "下落并弹起", "落地弹起", "落下", "掉下来", "下落", "落下并反弹", "弹起"],
    "bounce_around": ["来回弹跳", "四处反弹", "在墙壁之间弹来弹去", "在画面里来回弹跳", "弹来弹去"],
    "spin_cw": ["沿顺时针方向旋转", "顺时针转"],
    "spin_ccw": ["沿逆时针方向旋转", "逆时针转"],
    "grow": ["越变越大", "放大", "渐渐变大"],
    "shrink": ["越变越小", "缩小", "渐渐变小"],
    "collide": ["相撞", "碰撞后弹开", "互相碰撞", "相互碰撞", "撞在一起", "相向而行并相撞"],
}
ZH_FILLERS = [
    "一个",
    "个",
    "一",
    "的",
    "在",
    "上",
    "里",
    "背景",
    "是",
    "和",
    "与",
    "跟",
    "同时",
    "而",
    "并且",
    "与此同时",
    "画面中",
    "画面里",
    "地",
    "上面",
    "中间",
]
ZH_PUNCT = set("，。；、,.;:：！!？?（）() \t\n")

KINDS = ("color", "background", "shape", "size", "motion", "filler")


def lexicon(lang: str) -> dict[str, tuple[str, str | None]]:
    """Phrase -> (kind, identifier) for the parser; kind in KINDS."""
    en = lang == "en"
    tables = [
        ("color", EN_COLORS_GEN if en else ZH_COLORS_GEN, EN_COLORS_ALSO if en else ZH_COLORS_ALSO),
        (
            "background",
            EN_BACKGROUNDS_GEN if en else ZH_BACKGROUNDS_GEN,
            EN_BACKGROUNDS_ALSO if en else ZH_BACKGROUNDS_ALSO,
        ),
        ("shape", EN_SHAPES_GEN if en else ZH_SHAPES_GEN, EN_SHAPES_ALSO if en else ZH_SHAPES_ALSO),
        ("size", EN_SIZES_GEN if en else ZH_SIZES_GEN, EN_SIZES_ALSO if en else ZH_SIZES_ALSO),
        ("motion", EN_MOTIONS_GEN if en else ZH_MOTIONS_GEN, EN_MOTIONS_ALSO if en else ZH_MOTIONS_ALSO),
    ]
    out: dict[str, tuple[str, str | None]] = {w: ("filler", None) for w in (EN_FILLERS if en else ZH_FILLERS)}
    for kind, gen, also in tables:
        for ident in set(gen) | set(also):
            for phrase in gen.get(ident, []) + also.get(ident, []):
                out[phrase] = (kind, ident)
    for phrase in EN_COLLIDE_GEN if en else ZH_COLLIDE_GEN:
        out[phrase] = ("motion", "collide")
    return out

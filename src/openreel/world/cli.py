"""`openreel world`: sample scenes, render clips and datasets, show the vocabulary.

Imports of numpy and the world's modules happen inside the commands, so `openreel --help`
and `openreel world --help` stay instant.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from openreel.errors import InvalidInput


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def world() -> None:
    """The shapes world: synthetic clips with exact physics and bilingual captions.

    \b
    Examples:
      openreel world sample --seed 3 --lang zh
      openreel world render --count 20000 --size 256 --seconds 2 --out data/shapes-train --workers 2
      openreel world render --scene scene.json -o one.mp4
      openreel world render --caption "a small red ball falls and bounces on a black background" -o ball.mp4
      openreel world vocab --lang zh
    """


# -- distribution options (shared) -----------------------------------------------------------------


def parse_weights(text: str, option: str, allowed, convert=str, expand=None) -> dict:
    """'a,b' (equal weights) or 'a=2,b=1' -> {a: w, b: w}; `expand` maps a name to several."""
    out: dict = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, weight = part.partition("=")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise InvalidInput(option, f"bad weight in {part!r} (write name=weight)") from None
        names = expand(name) if expand else [name]
        for n in names:
            try:
                key = convert(n)
            except ValueError:
                raise InvalidInput(option, f"bad value {n!r}") from None
            if allowed is not None and key not in allowed:
                raise InvalidInput(option, f"unknown value {n!r} (one of {', '.join(map(str, allowed))})")
            out[key] = w
    if not out:
        raise InvalidInput(option, "empty")
    return out


def dist_options(fn):
    options = [
        click.option("--size", type=int, default=256, show_default=True, help="Shorter side in pixels (even, >= 64)."),
        click.option(
            "--seconds", default="2", show_default=True, help="Clip duration(s): '2' or '2,3,5' or '2=3,5=1'."
        ),
        click.option(
            "--aspect",
            default="1:1",
            show_default=True,
            help="Aspect ratio(s): 1:1, 16:9, 9:16, weighted like --seconds.",
        ),
        click.option(
            "--objects",
            default=None,
            help="Objects per clip, e.g. '1,2,3' or '1=4,2=3,3=2' (default 1=.4,2=.35,3=.25).",
        ),
        click.option(
            "--motions", default=None, help="Motions or families (move, spin, resize), weighted; default all equally."
        ),
        click.option("--shapes", default=None, help="Shapes, weighted; default all equally."),
        click.option("--colors", default=None, help="Colours, weighted; default all equally."),
        click.option("--sizes", default=None, help="Sizes (small, medium, large), weighted."),
        click.option("--backgrounds", default=None, help="Backgrounds (black, white, gray, navy), weighted."),
        click.option(
            "--holdout", multiple=True, help="A held-out combination, e.g. 'purple triangle + spin' (repeatable)."
        ),
        click.option(
            "--holdout-file",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="File with one held-out combination per line.",
        ),
        click.option(
            "--split",
            type=click.Choice(["train", "heldout"]),
            default="train",
            show_default=True,
            help="train: no held-out combination appears; heldout: every clip has one.",
        ),
        click.option(
            "--dist",
            "dist_file",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="JSON distribution (the 'dist' of a dataset.json); options given override it.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


DIST_KEYS = (
    "size",
    "seconds",
    "aspect",
    "objects",
    "motions",
    "shapes",
    "colors",
    "sizes",
    "backgrounds",
    "holdout",
    "holdout_file",
    "split",
    "dist_file",
)


def build_dist(opts: dict, ctx: click.Context | None = None):
    from openreel.world import vocab
    from openreel.world.sampler import SceneDist

    def given(name: str) -> bool:
        if ctx is None:
            return opts.get(name) is not None
        source = ctx.get_parameter_source(name)
        return source is not None and source.name != "DEFAULT"

    base = {}
    if opts.get("dist_file"):
        try:
            base = json.loads(Path(opts["dist_file"]).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInput("dist", f"{opts['dist_file']} is not JSON ({exc.msg})") from None
        if not isinstance(base, dict):
            raise InvalidInput("dist", "must be a JSON object")
    if given("size") or "size" not in base:
        base["size"] = opts["size"]
    if given("seconds") or "seconds" not in base:
        base["seconds"] = parse_weights(opts["seconds"], "seconds", None, float)
    if given("aspect") or "aspects" not in base:
        base["aspects"] = parse_weights(opts["aspect"], "aspect", tuple(vocab.ASPECTS))
    table = {
        "objects": ("objects", range(vocab.MIN_OBJECTS, vocab.MAX_OBJECTS + 1), int, None),
        "motions": ("motions", vocab.MOTIONS, str, _expand_motion),
        "shapes": ("shapes", vocab.SHAPES, str, None),
        "colors": ("colors", tuple(vocab.COLORS), str, None),
        "sizes": ("sizes", tuple(vocab.SIZES), str, None),
        "backgrounds": ("backgrounds", tuple(vocab.BACKGROUNDS), str, None),
    }
    for opt, (key, allowed, convert, expand) in table.items():
        if opts.get(opt):
            base[key] = parse_weights(opts[opt], opt, allowed, convert, expand)
    holdout = list(base.get("holdout", []))
    holdout += list(opts.get("holdout") or ())
    if opts.get("holdout_file"):
        lines = Path(opts["holdout_file"]).read_text(encoding="utf-8").splitlines()
        holdout += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    base["holdout"] = tuple(dict.fromkeys(holdout))
    if given("split") or "split" not in base:
        base["split"] = opts["split"]
    return SceneDist.from_dict(base)


def _expand_motion(name: str) -> list[str]:
    from openreel.world import vocab

    try:
        return list(vocab.expand_motion(name))
    except KeyError:
        raise InvalidInput(
            "motions",
            f"unknown motion {name!r} (one of {', '.join(vocab.MOTIONS)}, "
            f"or a family: {', '.join(vocab.MOTION_FAMILIES)})",
        ) from None


def _dist_opts(kwargs: dict) -> dict:
    return {k: kwargs.pop(k) for k in DIST_KEYS}


# -- sample ----------------------------------------------------------------------------------------


@world.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Dataset seed.")
@click.option("--index", type=int, default=0, show_default=True, help="Clip index within the seed's dataset.")
@click.option("--lang", type=click.Choice(["en", "zh", "both"]), default="both", show_default=True)
@click.option("--captions", "n_captions", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option("--trajectory", is_flag=True, help="Include the per-frame trajectory.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (machine output).")
@dist_options
@click.pass_context
def sample(
    ctx: click.Context, seed: int, index: int, lang: str, n_captions: int, trajectory: bool, as_json: bool, **kwargs
) -> None:
    """Print a scene and its captions: clip INDEX of the dataset `world render --seed SEED` writes.

    \b
    Examples:
      openreel world sample --seed 3 --lang zh
      openreel world sample --seed 3 --index 7 --json
      openreel world sample --motions fall_bounce --objects 1 --lang en
    """
    from openreel.world.dataset import make_sample

    dist = build_dist(_dist_opts(kwargs), ctx)
    s = make_sample(seed, index, dist, n_captions=n_captions, frames=False)
    caps = s.captions if lang == "both" else {lang: s.captions[lang]}
    scene = s.scene.to_dict(s.trajectory if trajectory else None)
    if as_json:
        click.echo(json.dumps({"seed": seed, "index": index, "scene": scene, "captions": caps}, ensure_ascii=False))
        return
    click.echo(json.dumps(scene, indent=2, ensure_ascii=False))
    for code, texts in caps.items():
        click.echo(f"\ncaptions ({code}):")
        for text in texts:
            click.echo(f"  {text}")


# -- render ----------------------------------------------------------------------------------------


@world.command()
@click.option("--count", type=int, default=None, help="Clips in the dataset (dataset mode).")
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(),
    default=None,
    help="Dataset folder, or with --scene/--caption a video file (.mp4, .gif or .png contact sheet).",
)
@click.option(
    "--scene",
    "scene_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Render one clip from a JSON scene (a description or a full scene).",
)
@click.option("--caption", default=None, help="Render one clip from a caption in the world's vocabulary.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True)
@click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=10,
    show_default=True,
    help="H.264 quality; datasets take 0-12 (lossless to near lossless).",
)
@click.option(
    "--captions",
    "n_captions",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Captions per clip and language.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@dist_options
@click.pass_context
def render(
    ctx: click.Context, count, out, scene_file, caption, seed, workers, crf, n_captions, force, **kwargs
) -> None:
    """Render a dataset folder, or one clip from a JSON scene or a caption.

    A dataset is clips/NNNNNN.mp4 plus metadata.jsonl (scene, captions, trajectories) and
    dataset.json; see docs/dataset-format.md. Clip i depends only on (seed, i), not on --workers.

    \b
    Examples:
      openreel world render --count 20000 --size 256 --seconds 2 --out data/shapes-train --workers 2
      openreel world render --count 500 --out data/heldout --holdout "purple triangle + spin" --split heldout
      openreel world render --scene scene.json -o one.mp4
      openreel world render --caption "一个红色的小球落下并弹起" --size 128 -o ball.gif
    """
    dist_opts = _dist_opts(kwargs)
    if scene_file or caption:
        if scene_file and caption:
            raise InvalidInput("scene", "give --scene or --caption, not both")
        if not out:
            raise InvalidInput("out", "give the output file with -o/--out")
        _render_one(ctx, scene_file, caption, Path(out), seed, crf, force, dist_opts)
        return
    if count is None or not out:
        raise InvalidInput("count", "a dataset needs --count and --out (or give --scene/--caption for one clip)")
    from openreel.world.dataset import write_dataset

    dist = build_dist(dist_opts, ctx)
    started = time.perf_counter()
    step = max(1, count // 100)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            click.echo(f"\r{done}/{total} clips", nl=False, err=True)

    write_dataset(
        out,
        count,
        seed=seed,
        dist=dist,
        workers=workers,
        crf=crf,
        n_captions=n_captions,
        force=force,
        progress=progress if sys.stderr.isatty() else None,
    )
    seconds = time.perf_counter() - started
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(f"wrote {count} clips to {out} in {seconds:.1f} s ({count / seconds:.1f} clips/s)")


def _render_one(ctx, scene_file, caption, out: Path, seed, crf, force, dist_opts) -> None:
    import numpy as np

    from openreel.video.io import contact_sheet, write_gif, write_mp4, write_png
    from openreel.world import vocab
    from openreel.world.parse import parse_caption
    from openreel.world.physics import simulate
    from openreel.world.render import render as draw
    from openreel.world.sampler import realize
    from openreel.world.scene import Scene, frame_size, scene_from_dict

    if out.exists() and not force:
        raise InvalidInput("out", f"{out} exists; pass --force to overwrite it")
    if out.suffix.lower() not in (".mp4", ".gif", ".png"):
        raise InvalidInput("out", f"write .mp4, .gif or .png, not {out.suffix or 'no extension'}")

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name).name != "DEFAULT"

    if scene_file:
        try:
            data = json.loads(Path(scene_file).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInput("scene", f"{scene_file} is not JSON ({exc.msg})") from None
        scene: Scene = scene_from_dict(data)
    else:
        scene = parse_caption(caption)
    size = dist_opts["size"]
    if size < 64 or size % 2:
        raise InvalidInput("size", f"the shorter side is even and at least 64 pixels, got {size}")
    seconds = float(dist_opts["seconds"]) if given("seconds") else None
    if scene.realized and not given("aspect"):
        width, height = scene.width, scene.height
        if given("size"):  # same aspect, new shorter side
            f = size / min(width, height)
            width, height = 2 * round(width * f / 2), 2 * round(height * f / 2)
        if seconds:
            from dataclasses import replace

            scene = replace(scene, frames=vocab.frame_count(seconds))
        render_scene, (rw, rh) = scene, (width, height)
    else:
        width, height = frame_size(size, dist_opts["aspect"])
        rng = np.random.default_rng([seed, 0, 0])
        render_scene = realize(scene, rng, width=width, height=height, seconds=seconds or 2.0)
        rw, rh = width, height
    traj = simulate(render_scene)
    frames = draw(render_scene, traj, rw, rh)
    meta = {"openreel_world_scene": json.dumps(render_scene.to_dict(), ensure_ascii=False)}
    if out.suffix.lower() == ".mp4":
        if rw % 2 or rh % 2:
            raise InvalidInput("size", f"H.264 needs an even frame size, got {rw}x{rh}")
        write_mp4(frames, out, render_scene.fps, crf=crf, metadata=meta)
    elif out.suffix.lower() == ".gif":
        write_gif(frames, out, render_scene.fps)
    else:
        write_png(contact_sheet(frames, count=8), out)
    labels = "; ".join(o.label() for o in render_scene.objects)
    click.echo(
        f"wrote {out} ({rw}x{rh}, {len(frames)} frames, {render_scene.duration:g} s): "
        f"{labels} on {render_scene.background}"
    )


# -- vocab -----------------------------------------------------------------------------------------


@world.command()
@click.option("--lang", type=click.Choice(["en", "zh", "both"]), default="both", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine output.")
def vocab(lang: str, as_json: bool) -> None:
    """Print the words captions and prompts may use (what the parser knows).

    \b
    Examples:
      openreel world vocab
      openreel world vocab --lang zh --json
    """
    from openreel.world import lexicon

    langs = ["en", "zh"] if lang == "both" else [lang]
    table = {}
    for code in langs:
        by_kind: dict[str, dict[str, list[str]]] = {}
        for phrase, (kind, ident) in sorted(lexicon.lexicon(code).items()):
            by_kind.setdefault(kind, {}).setdefault(ident or "-", []).append(phrase)
        table[code] = by_kind
    if as_json:
        click.echo(json.dumps(table, ensure_ascii=False, indent=1))
        return
    for code, kinds in table.items():
        click.echo(f"[{code}]")
        for kind in ("color", "background", "shape", "size", "motion", "filler"):
            click.echo(f"  {kind}:")
            for ident, phrases in kinds.get(kind, {}).items():
                click.echo(f"    {ident}: {' | '.join(phrases)}")

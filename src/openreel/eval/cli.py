"""`openreel eval`: score videos against shapes-world scenes or captions (spec section 7).

Heavy imports happen inside the command so `openreel --help` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from openreel.errors import InvalidInput
from openreel.eval.suite import SUITES  # stdlib only: the help stays instant


def _check_interval(ctx, param, value):
    """Refuse a bad interval before any model loads."""
    if value is None:
        return None
    try:
        from openreel.sampling.schedule import check_guidance_interval

        return check_guidance_interval(value)
    except ValueError as exc:
        raise InvalidInput("guidance_interval", str(exc)) from None


@click.command("eval", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("video", required=False, type=click.Path(dir_okay=False))
@click.option("--prompt", default=None, help="Score VIDEO against this caption (English or Chinese).")
@click.option(
    "--scene",
    "scene_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Score VIDEO against this JSON scene.",
)
@click.option(
    "--videos",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Folder of videos to score (suite mode).",
)
@click.option(
    "--scenes",
    type=click.Path(exists=True),
    default=None,
    help="metadata.jsonl (or its folder) naming each video's scene; default VIDEOS/metadata.jsonl.",
)
@click.option(
    "--against",
    type=click.Choice(["scene", "captions"]),
    default="scene",
    show_default=True,
    help="Score each video against its scene, or against each of its captions (parsed; per language).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a Markdown report here, its JSON beside it, failure sheets in <name>-failures/.",
)
@click.option(
    "--max-sheets",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Contact sheets of at most this many failures.",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Score only the first N items.")
@click.option("--json", "as_json", is_flag=True, help="Machine output on stdout.")
@click.option(
    "--model", default=None, help="Generate a suite with this model ('default', a folder or a preset), then score it."
)
@click.option(
    "--suite",
    type=click.Choice(list(SUITES)),
    default="heldout",
    show_default=True,
    help="Prompts for --model: held-out scenes from a world seed no training run uses, or seen scenes "
    "from the one the default model trained on (the gap between them: underfit or not generalising).",
)
@click.option(
    "--count", type=click.IntRange(1, 10000), default=300, show_default=True, help="Prompts in the suite (--model)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where --model writes its videos (kept; reruns skip finished ones) [default: beside --report].",
)
@click.option("--size", default=None, help="WIDTHxHEIGHT for --model [default: the model's].")
@click.option("--frames", type=click.IntRange(1), default=None,
              help="Frames per video for --model (4n+1) [default: the model's]; longer clips than training's.")
@click.option("--steps", type=click.IntRange(1, 1000), default=None, help="Denoising steps for --model.")
@click.option("--guidance", type=click.FloatRange(0, 50), default=None, help="Guidance scale for --model.")
@click.option("--solver", default=None, help="Solver for --model (euler, dpmpp_2m, unipc).")
@click.option("--shift", type=click.FloatRange(0, 100, min_open=True), default=None,
              help="Timestep shift for --model [default: the model's].")
@click.option("--guidance-interval", type=(float, float), default=None, metavar="LOW HIGH", callback=_check_interval,
              help="Noise levels where guidance applies, for --model [default: the model's].")
def eval_command(
    video,
    prompt,
    scene_file,
    videos,
    scenes,
    against,
    report,
    max_sheets,
    limit,
    as_json,
    model,
    suite,
    count,
    out_dir,
    size,
    frames,
    steps,
    guidance,
    solver,
    shift,
    guidance_interval,
) -> None:
    """Score videos against the shapes world's scenes: pass/fail per object and check.

    Checks per object: present, shape, size, motion (physics), consistency; per clip:
    background (when named) and no_extra. A clip passes only if all pass. A single VIDEO is
    scored against --prompt, --scene, or the scene `openreel world render` embedded in it.

    \b
    Examples:
      openreel eval one.mp4 --prompt "a small red ball falls and bounces on a black background"
      openreel eval one.mp4 --scene scene.json --json
      openreel eval --videos data/shapes-train --limit 200
      openreel eval --videos out/ --scenes data/heldout/metadata.jsonl --report report.md
      openreel eval --videos data/heldout --against captions --report captions.md
      openreel eval --model default --suite heldout --report eval.md
      openreel eval --model default --suite seen --count 100 --steps 10
      openreel eval --model runs/t2v/export --count 40 --steps 10 --out /tmp/suite
      openreel eval --model default --count 100 --frames 65 --report eval-4s.md
      openreel eval --model default --suite seen --count 100 --shift 6 --report shift6/eval.md
      openreel eval --model default --suite seen --count 100 --guidance-interval 0.8 1 --report gi/eval.md
    """
    from openreel.eval.report import evaluate, sheets_folder, write_report

    preface, extra = None, None
    if model:
        if video or videos:
            raise InvalidInput("model", "--model generates its own videos; leave out VIDEO and --videos")
        asked = dict(size=size, frames=frames, steps=steps, guidance=guidance, solver=solver, shift=shift,
                     guidance_interval=guidance_interval)
        settings = {k: v for k, v in asked.items() if v is not None}
        videos, scenes, preface, extra = _generate(model, suite, count, out_dir, report, settings)
    if video and videos:
        raise InvalidInput("video", "give one VIDEO or --videos, not both")
    if video:
        items = [_single_item(video, prompt, scene_file)]
    elif videos:
        if prompt or scene_file:
            raise InvalidInput("prompt", "--prompt/--scene go with a single VIDEO; a suite takes --scenes")
        items = _suite_items(Path(videos), Path(scenes) if scenes else Path(videos), against)
    else:
        raise InvalidInput("video", "give a VIDEO (with --prompt or --scene) or --videos DIR")
    items = items[:limit] if limit else items
    sheets = sheets_folder(report) if report and max_sheets else None
    show = sys.stderr.isatty() and len(items) > 1

    def progress(n: int) -> None:
        if show and (n % 10 == 0 or n == len(items)):
            click.echo(f"\rscored {n}/{len(items)}", nl=False, err=True)

    result = evaluate(items, sheets_dir=sheets, max_sheets=max_sheets, progress=progress)
    if show:
        click.echo("", err=True)
    if report:
        md, js = write_report(result, report, preface=preface, extra=extra)
    if as_json:
        out = result.to_dict()
        if video:
            out = out["items"][0]
        click.echo(json.dumps(out, ensure_ascii=False))
    elif video:
        _print_single(items[0])
    else:
        _print_suite(result)
    if report and not as_json:
        click.echo(f"report: {md} and {js}")


def _generate(model, suite, count, out_dir, report, settings: dict):
    """Generate the suite's videos with `model` and the `settings` asked for (the rest: the model's
    defaults); returns (videos, scenes, report preface, JSON extras)."""
    from openreel.eval.suite import generate_suite, suite_prompts, timing_summary
    from openreel.generator import Generator

    prompts = suite_prompts(suite, count)
    if out_dir is None:
        out_dir = (Path(report).with_suffix("").as_posix() + "-videos") if report else f"eval-{suite}-videos"
    generator = Generator.from_pretrained(model)
    show = sys.stderr.isatty()

    def progress(n: int, total: int) -> None:
        if show:
            click.echo(f"\rgenerated {n}/{total}", nl=False, err=True)

    meta = generate_suite(generator, prompts, Path(out_dir), settings, progress)
    if show:
        click.echo("", err=True)
    s = generator.resolve(prompts[0].prompt, **settings)
    timing = timing_summary(meta)
    used = {
        "model": generator.model.spec.name,
        "weights_sha256": generator.weights_hash,
        "suite": suite,
        "count": count,
        "width": s.width,
        "height": s.height,
        "frames": s.frames,
        "steps": s.steps,
        "solver": s.solver,
        "guidance": s.guidance,
        "shift": s.shift,
        "guidance_interval": list(s.guidance_interval),
        "device": str(generator.model.device),
    }
    preface = [
        f"Model `{used['model']}` (weights sha256 {used['weights_sha256'][:12]}), suite `{suite}` of "
        f"{count} prompts (half English, half Chinese), {s.width}x{s.height}, {s.frames} frames, "
        f"{s.steps} {s.solver} steps, guidance {s.guidance:g} (at noise levels {s.guidance_interval[0]:g} to "
        f"{s.guidance_interval[1]:g}), shift {s.shift:g}, on {used['device']}.",
        f"Generation time per video (encode and provenance included): median {timing['median_s']:.2f} s, "
        f"max {timing['max_s']:.2f} s.",
    ]
    return out_dir, meta, preface, {"generation": {**used, **timing}}


def _single_item(video: str, prompt: str | None, scene_file: str | None):
    from openreel.eval.report import EvalItem
    from openreel.world.parse import detect_lang, parse_caption
    from openreel.world.scene import scene_from_dict

    if not Path(video).is_file():
        raise InvalidInput("video", f"no video file at {video}")
    if prompt and scene_file:
        raise InvalidInput("prompt", "give --prompt or --scene, not both")
    lang = None
    if prompt:
        scene, lang = parse_caption(prompt), detect_lang(prompt)
    elif scene_file:
        scene = scene_from_dict(_read_json(scene_file)).describe()
    else:
        scene = _embedded_scene(video)
    return EvalItem(id=Path(video).stem, scene=scene, video=video, lang=lang)


def _embedded_scene(video: str):
    import av

    from openreel.world.scene import scene_from_dict

    with av.open(video) as container:
        raw = dict(container.metadata).get("openreel_world_scene")
    if not raw:
        raise InvalidInput("prompt", f"{video} carries no scene; give --prompt or --scene")
    return scene_from_dict(json.loads(raw)).describe()


def _read_json(path: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput("scene", f"{path} is not JSON ({exc.msg})") from None


def _suite_items(videos: Path, scenes: Path, against: str):
    from openreel.eval.report import EvalItem
    from openreel.world.dataset import read_metadata
    from openreel.world.parse import detect_lang, parse_caption
    from openreel.world.scene import scene_from_dict

    items = []
    for n, row in enumerate(read_metadata(scenes)):
        ident = str(row.get("id", n))
        path = _find_video(videos, row, ident)
        base = dict(
            id=ident,
            video=str(path) if path else None,
            error=None if path else f"no video for {row['video']!r} in {videos}",
        )
        if "prompt" in row:  # a generated suite: the video was made from this caption
            items.append(
                EvalItem(scene=parse_caption(row["prompt"]), lang=row.get("lang") or detect_lang(row["prompt"]), **base)
            )
        elif against == "scene" and "scene" in row:
            try:
                scene = scene_from_dict(row["scene"]).describe()
            except InvalidInput as exc:
                raise InvalidInput("scenes", f"line {n + 1} ({ident}): {exc}") from None
            items.append(EvalItem(scene=scene, **base))
        else:  # score against every caption, each parsed
            for lang, texts in sorted(row["captions"].items()):
                for k, text in enumerate(texts if isinstance(texts, list) else [texts]):
                    items.append(EvalItem(scene=parse_caption(text), lang=lang, **{**base, "id": f"{ident}/{lang}{k}"}))
    if not items:
        raise InvalidInput("scenes", f"{scenes} lists no clips")
    return items


def _find_video(folder: Path, row: dict, ident: str) -> Path | None:
    rel = Path(row["video"])
    for candidate in (folder / rel, folder / rel.name, folder / f"{ident}.mp4"):
        if candidate.is_file():
            return candidate
    return None


def _print_single(item) -> None:
    if item.error:
        click.echo(f"FAIL  {item.id}: {item.error}")
        return
    score = item.score
    click.echo(
        f"{'PASS' if score.passed else 'FAIL'}  {item.video} ({score.width}x{score.height}, "
        f"{score.frames} frames at {score.fps:g} fps)"
    )
    for name, check in score.checks.items():
        click.echo(f"  {'ok  ' if check.passed else 'FAIL'} {name}: {check.detail}")
    for o in score.objects:
        click.echo(f"  {o.label}")
        for name, check in o.checks.items():
            click.echo(f"    {'ok  ' if check.passed else 'FAIL'} {name}: {check.detail}")


def _print_suite(result) -> None:
    click.echo(f"clips passed: {result.overall.cell()}")
    for name, rate in result.per_check.items():
        click.echo(f"  {name:12s} {rate.cell()}")
    if result.present_share is not None:
        click.echo(f"  objects' colour found in {result.present_share:.0%} of frames on average (present needs 90%)")
        click.echo(f"  objects drawn as one blob (present): {result.objects_present.cell()}, "
                   f"split in two: {result.objects_split}")
    if result.errors:
        click.echo(f"  ({result.errors} could not be scored)")


@click.command("compare", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the comparison as JSON to this file.")
def compare_command(base: Path, new: Path, as_json: bool, out: Path | None) -> None:
    """Compare two `openreel eval` reports (JSON) of the same suite, paired per object and clip.

    Runs that differ in one setting generate the same prompts with the same seeds, so every object
    and clip is compared with itself: passes in each run, how many NEW gained and lost against
    BASE, and an exact sign test on those (p). Colour found is a mean paired difference. Runs with
    different --count are paired on the clips both hold.

    \b
    Examples:
      openreel eval --model default --suite seen --count 100 --report base/eval.md
      openreel eval --model default --suite seen --count 100 --shift 3 --report shift3/eval.md
      openreel compare base/eval.json shift3/eval.json
      openreel compare base/eval.json shift3/eval.json --json --out shift3-vs-base.json
    """
    from openreel.eval.paired import compare_reports, format_comparison, read_report

    result = compare_reports(read_report(base, "base"), read_report(new, "new"))
    result = {"base": str(base), "new": str(new), **result}
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    click.echo(json.dumps(result, indent=2) if as_json else format_comparison(result, str(base), str(new)))

"""The review page: one self-contained HTML file with every scene's takes, checks and pick.

The page sits in the work folder and names clips by relative paths (clips/...), with no script,
no external style and no network: it works opened from disk (file://) and from the bucket's
public URL, where the same keys sit under the storyboard's prefix. It is built from a plain data
model (scenes -> takes -> checks), so several takes per scene show side by side.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import __version__, media, voices
from .backends import picture_moves
from .checks import TakeChecks, check_take, choose
from .checks.cache import CheckCache
from .errors import MediaError
from .files import write_atomic
from .plan import clip_is_current, cut_spec, expected_fingerprint
from .prompts import build as build_prompt
from .scene import Storyboard
from .sheets import THUMB, contact_sheet
from .state import StateStore, source_of

if TYPE_CHECKING:
    from .storage import Storage

PAGE = "review.html"
SHEET = "review-sheet.png"
POSTERS = "review-posters"  # the players' poster frames, beside the page
POSTER = (288, 448)  # twice a player's size on the page, for sharp screens
MIDDLE = 2.5  # seconds: the key frame nearest the middle of a 5-second take, on the sheet
Checker = Callable[..., TakeChecks]


@dataclass(frozen=True)
class TakeView:
    """One take of a scene: its clip (relative to the page), its checks, whether it is the pick."""

    name: str
    path: str  # relative to the work folder, where the page is
    checks: TakeChecks | None = None
    error: str | None = None
    picked: bool = False
    poster: str | None = None  # its poster frame, relative to the page

    @property
    def href(self) -> str:
        """The clip's relative URL."""
        return _href(self.path)


@dataclass(frozen=True)
class SceneView:
    """One scene: its line and prompt, its takes, and which take is picked and why."""

    number: int
    id: str
    generated: bool
    line: str | None
    prompt: str | None
    status: str
    takes: tuple[TakeView, ...] = ()
    pick: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CastRow:
    """One scene of a character: its pick and how close its voice is to the reference."""

    scene: str
    take: str
    path: str  # the pick's clip, relative to the work folder
    similarity: float | None
    outlier: bool  # "another voice": under the threshold


@dataclass(frozen=True)
class CharacterView:
    """A character's voice across its scenes, with its reference to listen to beside each."""

    id: str
    name: str
    voice: str | None
    reference: str | None  # what the reference is, in a few words (None: none yet)
    reference_path: str | None  # its sound, relative to the work folder
    rows: tuple[CastRow, ...] = ()


@dataclass(frozen=True)
class ReviewPage:
    """Everything the page shows."""

    title: str
    storyboard: str
    scenes: tuple[SceneView, ...]
    created: str
    frame: tuple[int, int]  # the takes' picture size (width, height): their backend's
    contact_sheet: str | None = None
    characters: tuple[CharacterView, ...] = ()

    def counts(self) -> dict[str, int]:
        """Takes, and checks at each level, over the whole page."""
        takes = [t for s in self.scenes for t in s.takes]
        checks = [c for t in takes if t.checks for c in t.checks.checks]
        return {
            "scenes": len(self.scenes),
            "takes": len(takes),
            "pass": sum(c.level == "pass" for c in checks),
            "warn": sum(c.level == "warn" for c in checks),
            "fail": sum(c.level == "fail" for c in checks),
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "title": self.title,
            "storyboard": self.storyboard,
            "created": self.created,
            "contact_sheet": self.contact_sheet,
            "counts": self.counts(),
            "scenes": [
                {
                    "number": s.number,
                    "id": s.id,
                    "status": s.status,
                    "line": s.line,
                    "pick": s.pick,
                    "reason": s.reason,
                    "takes": [
                        {
                            "name": t.name,
                            "path": t.path,
                            "picked": t.picked,
                            "error": t.error,
                            "checks": t.checks.as_dict() if t.checks else None,
                        }
                        for t in s.takes
                    ],
                }
                for s in self.scenes
            ],
            "characters": [asdict(c) for c in self.characters],
        }


@dataclass(frozen=True)
class ReviewResult:
    """The page written, what it shows, and the side files beside it."""

    path: Path
    page: ReviewPage
    side_files: tuple[Path, ...]


def _href(relative: str) -> str:
    return "/".join(quote(part) for part in Path(relative).parts)


def build_page(
    storyboard: Storyboard, workdir: Path, *, checker: Checker = check_take
) -> ReviewPage:
    """Every scene with its takes checked (cached in the work folder) and its pick."""
    state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
    cache = CheckCache(workdir)
    scenes = []
    for scene in storyboard.scenes:
        if not scene.generated:
            scenes.append(SceneView(scene.number, scene.id, False, scene.speech, None, "footage"))
            continue
        prompt = build_prompt(scene)  # what the checks are kept by, whoever made the takes
        entry = state.scenes.get(scene.id)
        sent = build_prompt(scene, identity=entry.backend if entry else None)  # what is shown
        status: str = entry.status if entry else "pending"
        takes: list[TakeView] = []
        if entry is not None and entry.clip and (workdir / entry.clip).is_file():
            fingerprint = expected_fingerprint(scene, entry)
            if status == "done" and not (
                fingerprint and clip_is_current(entry, fingerprint, workdir)
            ):
                status = "changed"  # the scene was edited after this take was made
        # Every take of the scene side by side, rejected ones too (they were paid for).
        files = [(t.clip, t.backend) for t in entry.takes] if entry is not None else []
        if entry is not None and entry.clip and entry.clip not in [f for f, _ in files]:
            files.append((entry.clip, entry.backend))  # a state from before takes were recorded
        for relative, made_by in files:
            if (workdir / relative).is_file():
                moves = picture_moves(made_by or (entry.backend if entry else None))
                takes.append(
                    _checked(workdir / relative, relative, scene.speech, prompt, cache=cache,
                             checker=checker, moves=moves)
                )  # fmt: skip
        if scene.character is not None:  # each take's voice against its character's
            judged = voices.judged(
                scene, {t.name: t.checks for t in takes if t.checks}, workdir=workdir
            )
            takes = [replace(t, checks=judged.get(t.name, t.checks)) for t in takes]
        pick = reason = None
        checked = [t for t in takes if t.checks is not None]
        if checked:
            choice = choose([t.checks for t in checked if t.checks is not None])
            pick, reason = checked[choice.index].name, choice.reason
        if entry is not None and entry.clip and status == "done":
            clip = Path(entry.clip).name  # the take the cut uses: the page says so
            if clip != pick or (entry.pick_reason and "(not checked)" not in entry.pick_reason):
                pick, reason = clip, entry.pick_reason or reason
        takes = [replace(t, picked=t.name == pick) for t in takes]
        scenes.append(
            SceneView(
                scene.number,
                scene.id,
                True,
                scene.speech,
                sent,
                status,
                tuple(takes),
                pick,
                reason,
            )
        )
    cache.save()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    frame = cut_spec(storyboard, state).size
    # As the project names it (from where f1gen runs), or its file name when that is outside:
    # the page is published, and a local folder says nothing to its readers (and too much).
    shown = source_of(str(storyboard.path))
    if shown.startswith("../"):
        shown = storyboard.path.name
    return ReviewPage(
        storyboard.title,
        shown,
        tuple(scenes),
        created,
        frame,
        characters=_cast(storyboard, tuple(scenes), workdir),
    )


def _cast(
    storyboard: Storyboard, scenes: tuple[SceneView, ...], workdir: Path
) -> tuple[CharacterView, ...]:
    """A row per character: every scene's pick with its similarity to the reference."""
    kept = voices.VoiceBook(workdir).load() if storyboard.characters else {}
    views = {s.id: s for s in scenes}
    cast = []
    for character in storyboard.characters:
        reference = kept.get(character.id)
        where = None
        if reference is not None:
            where = reference.clip or (
                os.path.relpath(reference.voice_ref, workdir) if reference.voice_ref else None
            )
        rows = []
        for scene in voices.scenes_of(character, storyboard):
            view = views.get(scene.id)
            picked = next((t for t in view.takes if t.picked), None) if view else None
            if picked is None:
                continue
            check = picked.checks.named("voice") if picked.checks else None
            score = check.value if check is not None else None
            rows.append(
                CastRow(scene.id, picked.name, picked.path, score,
                        score is not None and score < voices.THRESHOLD)
            )  # fmt: skip
        cast.append(
            CharacterView(
                character.id,
                character.name,
                character.voice,
                reference.shown if reference else None,
                where,
                tuple(rows),
            )
        )
    return tuple(cast)


def _checked(
    clip: Path,
    relative: str,
    line: str | None,
    prompt: str,
    *,
    cache: CheckCache,
    checker: Checker,
    moves: bool = True,
) -> TakeView:
    key = CheckCache.key(clip, line=line, prompt=prompt)
    result = cache.get(key)
    if result is None:
        try:
            result = checker(clip, line=line, prompt=prompt, moves=moves)
        except MediaError as exc:
            return TakeView(clip.name, relative, error=exc.message)
        cache.put(key, result)
        cache.save()  # as each completes: a Ctrl-C during a long review keeps those done
    # Named by the take: the checks are kept by the clip's bytes, whatever its name was.
    return TakeView(clip.name, relative, checks=replace(result, take=clip.name))


def write_review(
    storyboard: Storyboard, *, workdir: Path, checker: Checker = check_take
) -> ReviewResult:
    """Check every take, draw the contact sheet of the picks and write review.html atomically."""
    page = build_page(storyboard, workdir, checker=checker)
    side: list[Path] = []
    picks = [
        (f"{s.number:02d} {s.id}", media.frame_at(workdir / t.path, (0.0, 2 * MIDDLE), fit=THUMB))
        for s in page.scenes
        for t in s.takes
        if t.picked
    ]
    if picks:
        sheet = workdir / SHEET
        contact_sheet(picks, sheet)
        side.append(sheet)
        page = replace(page, contact_sheet=SHEET)
    page, posters = _with_posters(page, workdir)
    side += posters
    path = workdir / PAGE
    write_atomic(path, render(page).encode("utf-8"))
    return ReviewResult(path, page, tuple(side))


def _with_posters(page: ReviewPage, workdir: Path) -> tuple[ReviewPage, list[Path]]:
    """Each take with a poster frame (a small JPEG beside the page, made once per take), so a
    player shows its take before it is played; the page and the poster files."""
    made: list[Path] = []
    scenes = []
    for scene in page.scenes:
        takes = []
        for take in scene.takes:
            relative = f"{POSTERS}/{Path(take.name).stem}.jpg"
            poster = workdir / relative
            if not poster.is_file():
                try:
                    frame = media.frame_at(workdir / take.path, (0.0, 2 * MIDDLE), fit=POSTER)
                except MediaError:
                    takes.append(take)  # the page says it could not be checked
                    continue
                buffer = io.BytesIO()
                frame.convert("RGB").save(buffer, format="JPEG", quality=80)
                poster.parent.mkdir(exist_ok=True)
                write_atomic(poster, buffer.getvalue())
            made.append(poster)
            takes.append(replace(take, poster=relative))
        scenes.append(replace(scene, takes=tuple(takes)))
    return replace(page, scenes=tuple(scenes)), made


def publish_review(result: ReviewResult, *, workdir: Path, storage: Storage) -> str:
    """Put the page in the bucket beside the clips, with every take it plays (runs upload only
    the picks) and its side files; the page's link. What is already there is not sent again."""
    for scene in result.page.scenes:
        for take in scene.takes:
            if (workdir / take.path).is_file():
                storage.upload(workdir / take.path, Path(take.path).as_posix())
    for path in result.side_files:
        storage.upload(path, path.relative_to(workdir).as_posix())
    return storage.link(storage.upload(result.path, result.path.name).key)


STYLE = """
:root { color-scheme: dark; --bg: #16171b; --card: #202228; --line: #2e313a; --text: #e8e8ea;
  --dim: #9a9ca6; --pass: #3fb96b; --warn: #e3b341; --fail: #f05d5d; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; background: var(--bg); color: var(--text);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 0; font-size: 18px; display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
.meta, .dim { color: var(--dim); }
.counts span { margin-right: 14px; }
.sheet img { max-width: 100%; border-radius: 8px; border: 1px solid var(--line); }
.scene { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 16px; margin: 18px 0; }
.line { font-size: 17px; margin: 10px 0 6px; }
.line.none { color: var(--dim); font-style: italic; }
details { margin: 6px 0 12px; color: var(--dim); }
.takes { display: grid; gap: 16px; align-items: start;
  grid-template-columns: repeat(auto-fill, minmax(min(410px, 100%), 1fr)); }
.take { margin: 0; min-width: 0; display: flex; gap: 12px;
  border: 1px solid var(--line); border-radius: 10px; padding: 10px; background: #191a1f; }
.about { flex: 1; min-width: 0; }
.take.picked { border-color: var(--pass); box-shadow: 0 0 0 1px var(--pass); }
.take video { width: 144px; flex: none; align-self: flex-start; background: #000;
  border-radius: 6px; }
figcaption { margin: 0 0 6px; font-size: 13px; word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; background: var(--line); color: var(--text); }
.badge.pick, .badge.pass, .badge.done { background: var(--pass); color: #0b1f12; }
.badge.warn, .badge.changed, .badge.pending { background: var(--warn); color: #2a1f04; }
.badge.fail, .badge.failed, .badge.rejected { background: var(--fail); color: #2b0909; }
table.checks { width: 100%; border-collapse: collapse; font-size: 13px; }
table.checks td { padding: 3px 4px; border-top: 1px solid var(--line); vertical-align: top; }
table.checks td.value { white-space: nowrap; text-align: right; color: var(--dim); }
tr.warn td.name { color: var(--warn); } tr.fail td.name { color: var(--fail); }
.reason { margin-top: 12px; }
.error { color: var(--fail); }
footer { margin-top: 24px; color: var(--dim); font-size: 13px; }
.character { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 16px; margin: 18px 0; }
table.cast { border-collapse: collapse; font-size: 13px; }
table.cast th, table.cast td { padding: 4px 8px; border-top: 1px solid var(--line);
  text-align: left; }
table.cast audio { height: 32px; width: 220px; }
tr.cast-row.outlier td { color: var(--warn); }
"""


def render(page: ReviewPage) -> str:
    """The page as one HTML document; every text from the storyboard is escaped."""
    counts = page.counts()
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # An icon of its own: a bucket has none at its root (and refuses the browser's guess).
        '<link rel="icon" href="data:,">',
        f"<title>Review: {escape(page.title)}</title>",
        # The players keep the takes' shape before their first frame is loaded.
        f"<style>{STYLE}.take video {{ aspect-ratio: {page.frame[0]} / {page.frame[1]}; }}\n"
        "</style></head><body>",
        f"<header><h1>{escape(page.title)}</h1>",
        f'<p class="meta">{escape(page.storyboard)}</p>',
        '<p class="counts">'
        f"<span>{counts['scenes']} scenes</span><span>{counts['takes']} takes</span>"
        f'<span class="badge pass">{counts["pass"]} pass</span>'
        f'<span class="badge warn">{counts["warn"]} warn</span>'
        f'<span class="badge fail">{counts["fail"]} fail</span></p></header>',
    ]
    if page.contact_sheet:
        out.append(
            f'<section class="sheet"><img src="{escape(_href(page.contact_sheet))}" '
            'alt="Contact sheet: the picked take of every scene"></section>'
        )
    out += [_character(character) for character in page.characters]
    out += [_scene(scene) for scene in page.scenes]
    out.append(
        f"<footer>Made {escape(page.created)} by f1gen {escape(__version__)}. "
        "Checks are advice, except those marked hard: a take that fails one is a failed "
        "attempt.</footer></body></html>"
    )
    return "\n".join(out) + "\n"


def _scene(scene: SceneView) -> str:
    anchor = f"scene-{scene.number:02d}"
    parts = [
        f'<section class="scene" id="{anchor}" data-scene="{escape(scene.id)}">',
        f"<h2>{scene.number:02d} {escape(scene.id)} "
        f'<span class="badge {escape(scene.status)}">{escape(scene.status)}</span></h2>',
    ]
    if scene.line:
        parts.append(f'<p class="line">\u201c{escape(scene.line)}\u201d</p>')
    else:
        parts.append('<p class="line none">no line</p>')
    if scene.prompt:
        parts.append(
            f'<details><summary>Prompt</summary><p class="prompt">{escape(scene.prompt)}</p>'
            "</details>"
        )
    if not scene.generated:
        parts.append('<p class="dim">footage: cut in as it is, not checked</p>')
    elif not scene.takes:
        parts.append('<p class="dim">no take yet</p>')
    else:
        parts.append('<div class="takes">')
        parts += [_take(take) for take in scene.takes]
        parts.append("</div>")
    if scene.pick and scene.reason:
        parts.append(
            f'<p class="reason"><b>Pick:</b> {escape(scene.pick)}: {escape(scene.reason)}</p>'
        )
    parts.append("</section>")
    return "\n".join(parts)


def _character(character: CharacterView) -> str:
    reference = (
        f'<audio controls preload="none" src="{escape(_href(character.reference_path))}"></audio>'
        if character.reference_path
        else ""
    )
    parts = [
        f'<section class="character" data-character="{escape(character.id)}">',
        f'<h2>{escape(character.name)} <span class="dim">({escape(character.id)})</span></h2>',
        f'<p class="dim">{escape(character.voice or "no voice description")}; reference: '
        f"{escape(character.reference or 'none yet')}</p>",
        '<table class="cast">',
        "<tr><th>scene</th><th>pick</th><th>voice</th><th>the pick</th><th>reference</th></tr>",
    ]
    for row in character.rows:
        shown = "-" if row.similarity is None else f"{row.similarity:.2f}"
        mark = ' <span class="badge warn">another voice</span>' if row.outlier else ""
        parts.append(
            f'<tr class="cast-row{" outlier" if row.outlier else ""}" '
            f'data-scene="{escape(row.scene)}" data-take="{escape(row.take)}" '
            f'data-similarity="{shown}">'
            f"<td>{escape(row.scene)}</td><td>{escape(row.take)}</td>"
            f"<td>{shown}{mark}</td>"
            f'<td><audio controls preload="none" src="{escape(_href(row.path))}"></audio></td>'
            f"<td>{reference}</td></tr>"
        )
    parts.append("</table></section>")
    return "\n".join(parts)


def _take(take: TakeView) -> str:
    poster = f' poster="{escape(_href(take.poster))}"' if take.poster else ""
    badges = ""
    if take.picked:
        badges += ' <span class="badge pick">pick</span>'
    if take.checks and take.checks.rejected:
        badges += ' <span class="badge rejected">failed a hard check</span>'
    parts = [
        f'<figure class="take{" picked" if take.picked else ""}" data-take="{escape(take.name)}">',
        f'<video controls preload="metadata"{poster} src="{escape(take.href)}"></video>',
        f'<div class="about"><figcaption>{escape(take.name)}{badges}</figcaption>',
    ]
    if take.error:
        parts.append(f'<p class="error">could not be checked: {escape(take.error)}</p>')
    if take.checks:
        parts.append('<table class="checks">')
        for check in take.checks.checks:
            hard = " (hard)" if check.hard else ""
            parts.append(
                f'<tr class="check {check.level}" data-check="{escape(check.name)}">'
                f'<td class="name">{escape(check.name)}{hard}</td>'
                f'<td class="value">{escape(check.shown)}</td>'
                f'<td><span class="badge {check.level}">{check.level}</span></td>'
                f"<td>{escape(check.reason)}</td></tr>"
            )
        parts.append("</table>")
        parts += [f'<p class="dim">{escape(note)}</p>' for note in take.checks.notes]
    parts.append("</div></figure>")
    return "\n".join(parts)

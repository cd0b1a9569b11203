"""What a run has made so far: one row per scene, and totals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .plan import scene_clip
from .scene import Scene, Storyboard
from .state import RunState, SceneState, StateStore


@dataclass(frozen=True)
class SceneRow:
    """One scene as `f1gen status` shows it."""

    number: int
    id: str
    state: str
    attempts: int  # attempts that finished (a clip, a failure, a stop)
    interrupted: int  # attempts cut short by a kill or Ctrl-C: they do not count against --attempts
    gen_seconds: float
    queue_seconds: float
    video_seconds: float | None
    audio_seconds: float | None
    backend: str | None
    clip: str | None
    uploaded: bool | None  # None: no bucket in play for this clip
    last_error: str | None
    cost_usd: float = 0.0
    wait_seconds: float = 0.0  # backing off from a busy or unreachable backend
    cpu_seconds: float = 0.0  # rendered on this machine
    note: str | None = None  # what a done scene lacks, or what to do about its pick
    character: str | None = None
    voice: float | None = None  # the clip's similarity to its character's reference
    voices: dict[str, float | None] = field(default_factory=dict)  # every take's, by name

    @property
    def voice_shown(self) -> str:
        """'0.91', '0.62 another voice', or '-' when not judged."""
        from .voices import THRESHOLD

        if self.voice is None:
            return "-"
        return f"{self.voice:.2f}" + (" another voice" if self.voice < THRESHOLD else "")


@dataclass(frozen=True)
class StatusTable:
    """Every scene's row plus totals."""

    storyboard: Path
    workdir: Path
    rows: tuple[SceneRow, ...]
    retry_after: dict[str, str]
    characters: dict[str, dict[str, Any]] = field(default_factory=dict)  # id: name, reference

    @property
    def ready(self) -> int:
        """Scenes the stitch can use now."""
        return sum(row.state in ("done", "footage") for row in self.rows)

    @property
    def gpu_seconds(self) -> float:
        """Time spent generating, retries included (queue waits excluded)."""
        return sum(row.gen_seconds for row in self.rows)

    @property
    def queue_seconds(self) -> float:
        """Time spent waiting in queues."""
        return sum(row.queue_seconds for row in self.rows)

    @property
    def wait_seconds(self) -> float:
        """Time spent backing off from a busy or unreachable backend (no GPU ran)."""
        return sum(row.wait_seconds for row in self.rows)

    @property
    def cpu_seconds(self) -> float:
        """Time spent rendering on this machine (the animatic: no GPU ran)."""
        return sum(row.cpu_seconds for row in self.rows)

    def time_words(self) -> str:
        """Each kind of time spent, as what it is."""
        words = f"GPU time spent {self.gpu_seconds / 60:.1f} min"
        words += f", queue waits {self.queue_seconds / 60:.1f} min"
        if self.wait_seconds:
            words += f", backoff waits {self.wait_seconds / 60:.1f} min"
        if self.cpu_seconds:
            words += f", rendered here (CPU) {self.cpu_seconds / 60:.1f} min"
        return words

    @property
    def cost_usd(self) -> float:
        """Money hosted providers charged for the clips, retries included."""
        return sum(row.cost_usd for row in self.rows)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "storyboard": str(self.storyboard),
            "workdir": str(self.workdir),
            "ready": self.ready,
            "total": len(self.rows),
            "gpu_seconds": round(self.gpu_seconds, 1),
            "queue_seconds": round(self.queue_seconds, 1),
            "wait_seconds": round(self.wait_seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "cost_usd": round(self.cost_usd, 4),
            "retry_after": self.retry_after,
            "scenes": [asdict(row) for row in self.rows],
            "characters": self.characters,
        }


def table(
    storyboard: Storyboard,
    workdir: Path,
    *,
    state: RunState | None = None,
    bucketed: bool = False,
) -> StatusTable:
    """The state of every scene of storyboard in workdir (bucketed: storage is configured);
    state: the run's state when the caller holds it (a run that just ended), else it is read."""
    if state is None:
        state = StateStore(workdir).load(storyboard=str(storyboard.path), title=storyboard.title)
    rows = []
    for scene in storyboard.scenes:
        entry = state.scenes.get(scene.id)
        clip = scene_clip(scene, state, workdir)
        note = entry.shortfall if entry else None
        if not scene.generated:
            shown = "footage" if clip else "footage missing"
        elif clip is not None:
            shown = "done"
        elif entry is not None and entry.status == "done":
            lost = _lost_pick(scene, entry, workdir, storyboard.path)
            shown, clip, note = lost or ("changed", None, None)
        else:
            shown = entry.status if entry else "pending"
        rows.append(
            SceneRow(
                number=scene.number,
                id=scene.id,
                state=shown,
                attempts=entry.attempts - entry.interrupted if entry else 0,
                interrupted=entry.interrupted if entry else 0,
                gen_seconds=round(entry.gen_seconds, 1) if entry else 0.0,
                queue_seconds=round(entry.queue_seconds, 1) if entry else 0.0,
                video_seconds=entry.video_seconds if entry else None,
                audio_seconds=entry.audio_seconds if entry else None,
                backend=entry.backend if entry and clip and scene.generated else None,
                clip=str(clip) if clip else None,
                uploaded=(
                    entry.remote_key is not None and entry.remote_sha256 == entry.sha256
                    if entry and clip and scene.generated and (bucketed or entry.remote_key)
                    else None
                ),
                last_error=entry.last_error if entry else None,
                cost_usd=entry.cost_usd if entry else 0.0,
                wait_seconds=round(entry.wait_seconds, 1) if entry else 0.0,
                cpu_seconds=round(entry.cpu_seconds, 1) if entry else 0.0,
                note=note if shown in ("done", "pick needed") else None,
                character=scene.character.id if scene.character else None,
                voice=next((t.voice for t in entry.takes if clip and t.clip == entry.clip), None)
                if entry
                else None,
                voices={t.name: t.voice for t in entry.takes} if entry and scene.character else {},
            )
        )
    return StatusTable(
        storyboard.path,
        workdir,
        tuple(rows),
        dict(state.retry_after),
        characters=cast_of(storyboard, workdir),
    )


def _lost_pick(
    scene: Scene, entry: SceneState, workdir: Path, board: Path
) -> tuple[str, Path | None, str] | None:
    """A scene whose picked take went away: done with the take the next stitch or generate
    re-picks (status changes nothing), or waiting for a pick by hand; None when not that."""
    from .picks import lost_pick

    lost = lost_pick(scene, entry, workdir=workdir, board=board)
    if lost is None:
        return None
    if lost.chosen is None:
        return "pick needed", None, lost.message()
    return (
        "done",
        workdir / lost.chosen.clip,
        f"{lost.message()}: the next stitch or generate records it",
    )


def cast_of(storyboard: Storyboard, workdir: Path) -> dict[str, dict[str, Any]]:
    """Each character's name, voice description and reference, as status and the manifest
    give them."""
    from .voices import VoiceBook, as_dict

    kept = VoiceBook(workdir).load() if storyboard.characters else {}
    return {
        c.id: {"name": c.name, "voice": c.voice, "voice_check": c.voice_check,
               "reference": as_dict(kept.get(c.id))}
        for c in storyboard.characters
    }  # fmt: skip

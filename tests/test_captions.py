"""Text people read: caption files that players show as written, and letters drawn as letters."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from f1gen import media
from f1gen.backends import ClipRequest
from f1gen.backends.animatic import AnimaticBackend
from f1gen.captions import Cue, draw_caption, to_srt, to_vtt
from f1gen.scene import Scene
from tests.support.images import draw_portrait

SPEECH = "Fish & chips <b>now</b>, said <i>Tom</i> &amp; Jerry"


def _as_a_player_reads_it(ffmpeg: str, text: str, suffix: str, tmp_path: Path) -> str:
    """The dialogue ffmpeg's subtitle decoder (what players build on) makes of a caption file."""
    source, decoded = tmp_path / f"c{suffix}", tmp_path / f"c{suffix}.ass"
    source.write_text(text, encoding="utf-8")
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(source), str(decoded)], check=True)
    dialogue = [line for line in decoded.read_text().splitlines() if line.startswith("Dialogue:")]
    return dialogue[0].split(",", 9)[9].replace("\u2060", "")


@pytest.mark.parametrize(("suffix", "write"), [(".srt", to_srt), (".vtt", to_vtt)])
def test_speech_with_markup_characters_is_shown_as_written(
    suffix: str, write: object, ffmpeg: str, tmp_path: Path
) -> None:
    text = write([Cue(0.0, 2.0, SPEECH)])  # type: ignore[operator]

    shown = _as_a_player_reads_it(ffmpeg, text, suffix, tmp_path)

    assert "{\\" not in shown  # no bold, no italics: the tags were not read as markup
    assert shown.replace("\\N", " ") == SPEECH


def test_the_vtt_escapes_are_the_standard_ones() -> None:
    assert to_vtt([Cue(0.0, 1.0, "a & b <c> d")]).endswith("a &amp; b &lt;c&gt; d\n")


def _caption_pixels(speech: str, tmp_path: Path) -> np.ndarray:
    draw_portrait(tmp_path / "p.png", size=(576, 896), color="teal")
    scene = Scene(number=1, id="s1", action="Waves.", speech=speech, atmosphere=None,
                  sample_steps=None, fit="cover", image=tmp_path / "p.png")  # fmt: skip
    dest = tmp_path / f"{abs(hash(speech))}.mp4"
    backend = AnimaticBackend(ffmpeg=None, scratch=tmp_path / "scratch")
    backend.generate(ClipRequest(scene, "p", tmp_path / "p.png", 40), dest, lambda update: None)
    frame = np.asarray(media.frame_at(dest, (0.0, 0.0)).convert("L"), dtype=np.int16)
    return frame[600:700]  # the caption's band


def test_the_animatic_draws_accented_letters_not_boxes(tmp_path: Path) -> None:
    accented = _caption_pixels("Pérez Ñandú", tmp_path)
    missing = _caption_pixels("P\uffffrez \uffffand\uffff", tmp_path)  # the font's box glyph

    assert np.abs(accented - missing).max() > 100


def _drawn_columns(path: Path) -> tuple[int, int]:
    """The leftmost and rightmost columns where a caption image has anything drawn."""
    from PIL import Image

    alpha = np.asarray(Image.open(path).getchannel("A"))
    columns = np.flatnonzero(alpha.max(axis=0) > 0)
    return int(columns[0]), int(columns[-1])


def test_a_long_unbroken_token_is_broken_to_stay_inside_the_caption_width(tmp_path: Path) -> None:
    token = "https://example.com/" + "a-very-long-path" * 4  # no space to break at
    drawn = draw_caption(f"See {token} now", tmp_path / "c.png", size=(576, 896))

    left, right = _drawn_columns(drawn)
    # the caption's box (its text and a padding of 0.4 of the font size) stays inside the 84%
    # of the width the captions may use
    assert left >= round(576 * 0.08) - 16 and right <= round(576 * 0.92) + 16


@pytest.mark.parametrize("write", [to_srt, to_vtt])
def test_the_caption_files_wrap_between_words_never_inside_one(write: object) -> None:
    long = "Antidisestablishmentarianism-and-more-of-it"  # longer than a caption line
    tag = '<font color="red">'  # speech that looks like a tag stays whole on its line
    text = write([Cue(0.0, 2.0, f"Well {long} and then a few words {tag}red</font> ok")])  # type: ignore[operator]

    lines = [line for line in text.splitlines() if line and "-->" not in line]
    shown = " ".join(lines).replace("\u2060", "")
    assert long in shown.split()
    escaped = tag if write is to_srt else tag.replace("<", "&lt;").replace(">", "&gt;")
    assert any(escaped in line.replace("\u2060", "") for line in lines)

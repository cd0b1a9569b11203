"""Whether the words of an English line were said: pocketsphinx against the prompt's words.

The recognizer listens for any sequence of the words of the whole prompt (the line, the action,
the atmosphere), so it can tell the line said from the prompt read aloud. Its en-us acoustic
model and dictionary ship inside the pocketsphinx wheel: nothing is fetched.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .model import Check, Level

if TYPE_CHECKING:
    import numpy.typing as npt

RATE = 16_000
FRAME = 0.01  # pocketsphinx counts time in 10 ms frames
MARGIN = 0.3  # seconds of sound kept around the speech the VAD found
KNOWN_SHARE = 0.75  # a line is English when it is plain ASCII and this share of its words is known
FOUND_PASS, FOUND_WARN = 0.75, 0.4
EXTRA_WARN, EXTRA_FAIL = 0.8, 1.5  # seconds of recognized speech that is not the line
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_TAG = re.compile(r"<[^<>]*>")  # Ovi's <S>, <E>, <AUDCAP>... are not said
_FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]"}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Heard:
    """A recognized word and when."""

    word: str
    start: float
    end: float


def words_of(text: str) -> list[str]:
    """The words of a text as the dictionary spells them: lower case, letters and apostrophes."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


# Beams narrower than pocketsphinx's defaults (1e-48, 7e-29, 1e-48) prune a grammar this small
# three times faster with the same words heard; a take the narrow search finds no way through
# (a line cut off mid-word) is heard again with the defaults.
NARROW = {"beam": 1e-35, "wbeam": 1e-20, "pbeam": 1e-35}


@lru_cache(maxsize=2)
def _decoder(narrow: bool = True) -> Any:
    from pocketsphinx import Decoder

    # No language model: the search is a grammar of the prompt's words, set per take.
    return Decoder(lm=None, loglevel="FATAL", **(NARROW if narrow else {}))


def english_words(line: str) -> tuple[list[str], list[str]]:
    """The line's words the dictionary knows, and those it does not."""
    with _LOCK:
        decoder = _decoder()
        words = words_of(line)
        known = [w for w in words if decoder.lookup_word(w)]
    return known, [w for w in words if w not in known]


def is_english(line: str) -> bool:
    """True when most of the line's words are English words the recognizer knows."""
    if any(not word.isascii() for word in words_of(line)):
        return False  # accented letters: the English model would only guess
    known, unknown = english_words(line)
    return bool(known) and len(known) / (len(known) + len(unknown)) >= KNOWN_SHARE


def recognize(
    mono16k: npt.NDArray[np.float32], *, vocabulary: list[str], span: tuple[float, float]
) -> list[Heard]:
    """The words of vocabulary heard in mono16k between span's ends (plus a margin)."""
    first = max(0, int((span[0] - MARGIN) * RATE))
    last = min(len(mono16k), int((span[1] + MARGIN) * RATE))
    pcm = (np.clip(mono16k[first:last], -1.0, 1.0) * 32767).astype("<i2").tobytes()
    words = sorted(set(vocabulary))
    grammar = (
        "#JSGF V1.0;\ngrammar take;\npublic <any> = <word>*;\n<word> = " + " | ".join(words) + ";\n"
    )
    offset = first / RATE
    with _LOCK:
        for narrow in (True, False):
            decoder = _decoder(narrow)
            decoder.add_jsgf_string("take", grammar)
            decoder.activate_search("take")
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            if decoder.hyp() is not None:
                break
        heard = [
            Heard(
                re.sub(r"\(\d+\)$", "", seg.word),
                offset + seg.start_frame * FRAME,
                offset + (seg.end_frame + 1) * FRAME,
            )
            for seg in decoder.seg() or ()
            if seg.word not in _FILLERS
        ]
    return heard


def word_checks(
    mono16k: npt.NDArray[np.float32], *, line: str, prompt: str, span: tuple[float, float]
) -> list[Check]:
    """How much of the line was heard, and how much speech was not the line."""
    known, unknown = english_words(line)
    with _LOCK:
        decoder = _decoder()
        spoken = words_of(_TAG.sub(" ", prompt))
        vocabulary = [w for w in {*known, *spoken} if decoder.lookup_word(w)]
    heard = recognize(mono16k, vocabulary=vocabulary, span=span)
    said = [h.word for h in heard]
    matcher = SequenceMatcher(a=known, b=said, autojunk=False)
    blocks = matcher.get_matching_blocks()
    matched_heard = {j + k for _, j, size in blocks for k in range(size)}
    found = sum(size for _, _, size in blocks)
    share = found / len(known)
    missing = [w for i, w in enumerate(known) if not any(a <= i < a + n for a, _, n in blocks)]
    ignored = f"; not in the dictionary, not looked for: {', '.join(unknown)}" if unknown else ""
    text = f"{found} of {len(known)} words of the line heard"
    if missing:
        text += f" (missing: {', '.join(missing[:6])}{'...' if len(missing) > 6 else ''})"
    text += ignored
    level: Level = "pass" if share >= FOUND_PASS else "warn" if share >= FOUND_WARN else "fail"
    checks = [Check("words", level, round(share * 100), "%", text)]
    # Speech beyond the line: words heard before the line's first word or after its last one.
    # Misheard words inside the line lower the share found instead.
    inside = sorted(matched_heard)
    first = heard[inside[0]].start if inside else float("inf")
    last = heard[inside[-1]].end if inside else float("-inf")
    extra = [
        h
        for i, h in enumerate(heard)
        if i not in matched_heard and (h.end <= first or h.start >= last)
    ]
    extra_seconds = round(sum(h.end - h.start for h in extra), 2)
    sample = ", ".join(dict.fromkeys(h.word for h in extra))
    if len(sample) > 60:
        sample = sample[:57].rsplit(",", 1)[0] + "..."
    if extra_seconds >= EXTRA_FAIL:
        checks.append(
            Check(
                "extra speech",
                "fail",
                extra_seconds,
                "s",
                f"{extra_seconds:.1f} s of speech that is not the line ({len(extra)} words: "
                f"{sample}): the prompt read aloud?",
            )
        )
    elif extra_seconds >= EXTRA_WARN:
        checks.append(
            Check(
                "extra speech",
                "warn",
                extra_seconds,
                "s",
                f"{extra_seconds:.1f} s of speech that is not the line ({sample})",
            )
        )
    else:
        checks.append(
            Check("extra speech", "pass", extra_seconds, "s", "no speech beyond the line")
        )
    return checks

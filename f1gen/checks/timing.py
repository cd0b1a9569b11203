"""When each word of a line is said in a take: for captions shown word by word.

The same alignment the take checks make (the VAD finds the speech, pocketsphinx hears the line's
words in it) placed on the line as written; a word not heard takes its place between the words
around it, and a line not heard at all (not English, or not recognized) is spread over the
speech the VAD found, each word by its length.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from pathlib import Path

from .. import media
from .sound import VAD_RATE, find_speech
from .words import RATE, Heard, english_words, is_english, recognize, words_of


def said_words(clip: Path, line: str, *, span: tuple[float, float]) -> list[tuple[str, float]]:
    """Each word of line as written, with when it starts in clip (seconds of the file); span:
    the part of the clip used, where the line is spread when no speech is found in it."""
    assert RATE == VAD_RATE  # one decode serves both
    tokens = line.split()
    sound = media.read_sound(clip, rate=RATE, mono=True)
    heard: list[Heard] = []
    where = span
    if sound is not None and sound.samples.shape[1]:
        samples = sound.samples[0]
        speech = find_speech(samples).span
        if speech is not None:
            where = speech
            if is_english(line):
                known, _ = english_words(line)
                heard = recognize(samples, vocabulary=known, span=speech)
    return place(tokens, heard, span=where)


def place(
    tokens: list[str], heard: list[Heard], *, span: tuple[float, float]
) -> list[tuple[str, float]]:
    """When each token starts: that of its first word heard in order, else spread by length
    between the heard words around it (or span's ends)."""
    words: list[str] = []
    owner: list[int] = []  # the token each word belongs to
    for index, token in enumerate(tokens):
        for word in words_of(token):
            words.append(word)
            owner.append(index)
    matcher = SequenceMatcher(a=words, b=[h.word for h in heard], autojunk=False)
    found: dict[int, Heard] = {}
    ends: dict[int, float] = {}
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            at = owner[a + k]
            found.setdefault(at, heard[b + k])
            ends[at] = heard[b + k].end
    starts: list[float | None] = [
        found[i].start if i in found else None for i in range(len(tokens))
    ]
    index = 0
    while index < len(tokens):
        if starts[index] is not None:
            index += 1
            continue
        gap_end = index
        while gap_end < len(tokens) and starts[gap_end] is None:
            gap_end += 1
        begin = ends.get(index - 1, span[0]) if index else span[0]
        finish = starts[gap_end] if gap_end < len(tokens) else span[1]
        assert finish is not None
        finish = max(finish, begin)
        weights = [len(tokens[k]) + 1 for k in range(index, gap_end)]
        total, moment = sum(weights), begin
        for k, weight in zip(range(index, gap_end), weights, strict=True):
            starts[k] = moment
            moment += (finish - begin) * weight / total
        index = gap_end
    placed: list[tuple[str, float]] = []
    for token, start in zip(tokens, starts, strict=True):
        assert start is not None
        previous = placed[-1][1] if placed else start
        placed.append((token, max(start, previous)))  # never before the word before it
    return placed

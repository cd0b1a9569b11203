"""What a clip must be: size, rate, frames, duration and sound (each backend declares one)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClipSpec:
    """The clips a backend makes: what a clip must be to be accepted, and what it may vary in.

    size: width x height of the picture (the character image is prepared at this size too);
    window: the durations accepted, in seconds; frames, sample_rates and channels: the forms
    the backend's files come in (the first is what an offline renderer writes);
    bytes_per_second: the order of magnitude of its files, generous (the room a clip needs).
    """

    size: tuple[int, int]
    fps: int
    frames: tuple[int, ...]
    window: tuple[float, float]
    sample_rates: tuple[int, ...]
    channels: tuple[int, ...]
    bytes_per_second: int = 400_000

    @property
    def clip_bytes(self) -> int:
        """The most a clip of the longest accepted duration is expected to weigh."""
        return int(self.bytes_per_second * self.window[1])

    @property
    def size_text(self) -> str:
        """The frame size as people write it: '576x896'."""
        return f"{self.size[0]}x{self.size[1]}"

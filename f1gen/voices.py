"""One voice per character: each take's voice against its character's reference."""

from __future__ import annotations

THRESHOLD = 0.80  # cosine similarity below which a take is "another voice" (bench/voice.py)

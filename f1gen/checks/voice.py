"""Whose voice a take speaks in: a speaker embedding of its speech, compared by cosine similarity.

The model is resemblyzer's voice encoder (Apache-2.0, see f1gen/models/NOTICE): a 3-layer LSTM
(256 units) over 40 mel bands at 16 kHz, its last hidden state projected to 256 values, ReLU and
L2-normalised. Its published weights were converted once, without torch, into
f1gen/models/resemblyzer.npz (float16; convert_resemblyzer.py beside it) and run here with numpy:
nothing is downloaded and torch is not needed. The front-end follows resemblyzer's: a power mel
spectrogram (25 ms Hann window, 10 ms hop, Slaney mel bands), partial utterances of 160 frames
(1.6 s) at 1.3 a second, each embedded, averaged and L2-normalised again.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    from threadpoolctl import ThreadpoolController

    Array = npt.NDArray[np.float32]

RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0  # resemblyzer raises quiet speech to this level before its mel spectrogram
PAD = 0.1  # seconds kept around each stretch of speech the VAD found
# Seconds of speech below which a voice is not judged: under 1.5 s (one partial, padded) the
# same espeak-ng voice scored as low as 0.54 against itself (bench notes in README).
MIN_SPEECH = 1.5
WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "resemblyzer.npz"
SIZE = 256


@lru_cache(maxsize=1)
def _weights() -> dict[str, Array]:
    """The encoder's weights at float32, each LSTM layer's two biases summed."""
    with np.load(WEIGHTS) as data:
        raw = {name: np.asarray(data[name], dtype=np.float32) for name in data.files}
    weights: dict[str, Array] = {}
    # torch's gate order is input, forget, cell, output: moved to input, forget, output, cell,
    # so that one sigmoid covers the first three.
    order = np.r_[0 : 2 * SIZE, 3 * SIZE : 4 * SIZE, 2 * SIZE : 3 * SIZE]
    for layer in range(3):
        weights[f"ih{layer}"] = np.ascontiguousarray(raw[f"lstm_weight_ih_l{layer}"][order].T)
        weights[f"hh{layer}"] = np.ascontiguousarray(raw[f"lstm_weight_hh_l{layer}"][order].T)
        bias = raw[f"lstm_bias_ih_l{layer}"] + raw[f"lstm_bias_hh_l{layer}"]
        weights[f"b{layer}"] = bias[order]
    weights["linear"] = np.ascontiguousarray(raw["linear_weight"].T)
    weights["linear_bias"] = raw["linear_bias"]
    return weights


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    mel = hz / (200.0 / 3)
    above = hz >= 1000.0
    mel[above] = 15.0 + np.log(hz[above] / 1000.0) / (math.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    hz = mel * (200.0 / 3)
    above = mel >= 15.0
    hz[above] = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel[above] - 15.0))
    return hz


@lru_cache(maxsize=1)
def _mel_filters() -> Array:
    """The 40 x 201 Slaney-normalised triangular filters from 0 Hz to 8 kHz."""
    bins = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    low, high = _hz_to_mel(np.array([0.0, RATE / 2]))
    edges = _mel_to_hz(np.linspace(low, high, MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    filters = np.maximum(0, np.minimum(lower, upper))
    filters *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return filters.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> Array:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(wav: Array) -> Array:
    """Power mel spectrogram, frames x 40, centred frames over a zero-padded signal."""
    padded = np.pad(wav, N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    spectrum = np.fft.rfft(frames * _window(), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power @ _mel_filters().T


def _partials(samples: int) -> list[int]:
    """The first mel frame of each partial utterance (resemblyzer's compute_partial_slices)."""
    frames = math.ceil((samples + 1) / HOP)
    step = round(RATE / PARTIALS_PER_SECOND / HOP)
    starts = list(range(0, max(1, frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def _sigmoid(x: Array) -> Array:
    out: Array = 0.5 * (np.tanh(0.5 * x) + 1.0)  # tanh: no overflow warnings on large inputs
    return out


def encode(mels: Array) -> Array:
    """Embeddings (partials x 256) of partial utterances (partials x 160 x 40), all at once."""
    # Products this small run several times slower when BLAS spreads them over threads.
    with _blas().limit(limits=1, user_api="blas"):
        return _encode(mels)


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finding the libraries once: it takes milliseconds


def _encode(mels: Array) -> Array:
    weights = _weights()
    batch, steps, _ = mels.shape
    layer_input = mels
    hidden = np.zeros((batch, SIZE), np.float32)
    for layer in range(3):
        # Every time step's input projection in one product; only the recurrence is a loop.
        projected = (layer_input.reshape(batch * steps, -1) @ weights[f"ih{layer}"]).reshape(
            batch, steps, 4 * SIZE
        ) + weights[f"b{layer}"]
        recurrent = weights[f"hh{layer}"]
        hidden = np.zeros((batch, SIZE), np.float32)
        cell = np.zeros((batch, SIZE), np.float32)
        outputs = np.empty((batch, steps, SIZE), np.float32)
        for t in range(steps):
            gates = projected[:, t] + hidden @ recurrent
            ifo = _sigmoid(gates[:, : 3 * SIZE])
            g = np.tanh(gates[:, 3 * SIZE :])
            cell = ifo[:, SIZE : 2 * SIZE] * cell + ifo[:, :SIZE] * g
            hidden = ifo[:, 2 * SIZE :] * np.tanh(cell)
            outputs[:, t] = hidden
        layer_input = outputs
    raw = np.maximum(0.0, hidden @ weights["linear"] + weights["linear_bias"])
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    embeddings: Array = (raw / np.maximum(norms, 1e-12)).astype(np.float32)
    return embeddings


def embed_utterance(wav: Array) -> Array:
    """The embedding of 16 kHz mono speech (resemblyzer's embed_utterance, volume raised first)."""
    wav = np.asarray(wav, np.float32)
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2))) if wav.size else 0.0
    if rms > 0:
        change = TARGET_DBFS - 20 * math.log10(rms)
        if change > 0:
            wav = wav * np.float32(10 ** (change / 20))
    starts = _partials(len(wav))
    need = (starts[-1] + PARTIAL_FRAMES) * HOP
    if need >= len(wav):
        wav = np.pad(wav, (0, need - len(wav)))
    mel = mel_frames(wav)
    mels = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
    mean = encode(mels).mean(axis=0)
    embedding: Array = (mean / np.linalg.norm(mean)).astype(np.float32)
    return embedding


def speech_only(mono16k: Array, segments: tuple[tuple[float, float], ...]) -> Array:
    """The stretches of speech the VAD found (a little margin each), joined end to end."""
    pieces = [
        mono16k[max(0, int((start - PAD) * RATE)) : int((end + PAD) * RATE)]
        for start, end in segments
    ]
    joined: Array = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return joined


def embed_speech(mono16k: Array, segments: tuple[tuple[float, float], ...]) -> Array | None:
    """The voice of a take's speech; None when it holds under MIN_SPEECH seconds of speech."""
    speech = speech_only(mono16k, segments)
    if sum(end - start for start, end in segments) < MIN_SPEECH:
        return None
    return embed_utterance(speech)


def similarity(a: Array | tuple[float, ...], b: Array | tuple[float, ...]) -> float:
    """Cosine similarity of two embeddings (1: the same direction)."""
    x, y = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(x @ y / max(float(np.linalg.norm(x) * np.linalg.norm(y)), 1e-12))

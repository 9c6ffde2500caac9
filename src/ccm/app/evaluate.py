"""A whole-book evaluation that reports its progress, for the shells that show it (``ccm metrics``, ``ccm demo``,
``ccm breach``) and those that do not."""

from __future__ import annotations

from collections.abc import Callable


def evaluate_book(book, snapshot, config, *, model=None, with_distance: bool = True, history=None,
                  on_progress: Callable[[str, int, int], None] | None = None):
    """``ccm.risk.metrics.evaluate`` of ``book`` at ``snapshot`` under ``config``; ``on_progress(stage, done,
    total)`` after each stage (``total`` from ``ccm.risk.metrics.progress_steps``; a run may skip stages)."""
    from ccm.risk.metrics import evaluate, progress_steps

    total = progress_steps(config, with_distance)
    done = 0

    def on_step(stage: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(stage, done, total)

    return evaluate(book, snapshot, config, model=model, with_distance=with_distance, on_step=on_step,
                    history=history)


__all__ = ["evaluate_book"]

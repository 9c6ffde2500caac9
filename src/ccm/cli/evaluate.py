"""Coverage metrics of a whole book with a progress bar on stderr: shared by ``ccm metrics``, ``ccm demo`` and
``ccm breach``."""

from __future__ import annotations

from ccm.cli.output import progress


def evaluate_with_progress(book, snapshot, config, *, model, with_distance: bool, show_progress: bool, history=None):
    """``ccm.risk.metrics.evaluate`` of ``book`` at ``snapshot`` under ``config``, one bar step per stage."""
    from ccm.risk.metrics import evaluate, progress_steps

    with progress(show_progress) as bar:
        task = bar.add_task("valuation", total=progress_steps(config, with_distance))

        def on_step(stage: str) -> None:
            bar.update(task, advance=1, description=stage)

        run = evaluate(book, snapshot, config, model=model, with_distance=with_distance, on_step=on_step,
                       history=history)
        bar.update(task, completed=progress_steps(config, with_distance))
    return run

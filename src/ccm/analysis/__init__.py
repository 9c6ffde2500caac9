"""Analysis over time and ahead of time (numpy only, no I/O): the dynamic timeline of coverage."""

from ccm.analysis.timeline import (
    LEVELS,
    ContextStepEvaluator,
    StepEvaluator,
    StepValues,
    TimelineAccumulator,
    TimelineResult,
    move_market,
    relative_path,
    resample_last,
    run_steps,
    run_timeline,
)

__all__ = ["LEVELS", "ContextStepEvaluator", "StepEvaluator", "StepValues", "TimelineAccumulator",
           "TimelineResult", "move_market", "relative_path", "resample_last", "run_steps", "run_timeline"]

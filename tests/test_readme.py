"""Every command in the README's console blocks runs as written from a fresh clone and prints what the README
shows (rules and normalisation: ``tests/readme.py``; regenerate with ``python -m tests.readme --update``)."""

from __future__ import annotations

from tests.readme import README, matches, normalise, parse, run_readme


def test_readme_commands_print_what_the_readme_shows() -> None:
    problems = run_readme()
    assert not problems, "\n\n".join(problems) + "\n\n(regenerate: python -m tests.readme --update)"


def test_every_console_block_has_commands_and_the_rules_are_strict() -> None:
    _, blocks = parse(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 6 and all(block.commands for block in blocks)
    assert sum(len(b.commands) for b in blocks) >= 15
    # the comparison is not vacuous: a changed figure or a missing line fails, "..." and durations do not
    shown = ["system coverage ratio │ 3.233 │", "...", "done in 1.2 s"]
    assert matches(normalise(shown), normalise(["system coverage ratio │    3.233 │", "x", "y", "done in 3.4 s"]))
    assert not matches(normalise(shown), normalise(["system coverage ratio │ 3.200 │", "done in 1.2 s"]))
    assert not matches(normalise(["a", "b"]), normalise(["a"]))
    assert not matches(normalise(["a"]), normalise(["a", "b"]))

"""Run the README's console blocks as written and compare what they print with what the README shows.

    python -m tests.readme            # check (what tests/test_readme.py does), print the differences
    python -m tests.readme --update   # rewrite the shown outputs in README.md from real runs

A console block is a fenced ``console`` block. A line starting with ``$ `` is a command (a trailing backslash
continues it on the next line); the lines after it, up to the next command, are its shown output.

How commands run:

- one after another with bash, in a scratch directory laid out like the repository root — ``examples/`` (a copy)
  and ``.venv/bin/ccm`` (the installed entry point) — so what they write never lands in the work tree and later
  commands see what earlier ones wrote; ``NAME=value`` lines set variables for the commands after them;
- with ``CCM_DATA_DIR`` naming an empty directory: the examples must not need the full data set;
- the shown output is compared with stdout; the exit code must be 0 (or the ``#: exit N`` marker's) and stderr must
  hold no traceback.

Normalisation (applied to both sides; nothing else may differ):

- trailing spaces; durations (``3.3 s``, ``45 ms``) → ``<t> s``; ccm API keys → ``ccm_<key>``; 64-digit hex
  hashes (Merkle roots over fresh random salts) → ``<hash>``; the scratch directory → ``.``;
- table rows are compared cell by cell (borders and column widths dropped), with the cells of the columns named in
  :data:`TIMING_COLUMNS` blanked;
- a shown line ``...`` stands for any number of lines.

Markers, as a shell comment at the end of a command (so that copying the line still works):

- ``#: running`` — runs until stopped (``ccm serve``, ``ccm monitor``): started, given :data:`RUNNING_S` seconds,
  its output so far compared with the shown lines as a prefix; it must still be running (or have exited 0); then
  stopped with SIGINT. Its ``--port N`` is replaced by a free port (and the port by N in its output);
- ``#: first N`` — only the first N output lines are shown (``--update`` writes them and ``...``); 0: none;
- ``#: exit N`` — the exit code the command is expected to end with.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNING_S = 12.0  # at most, for a running command's shown output to appear
QUIET_RUNNING_S = 4.0  # how long a running command with nothing shown must stay up
COMMAND_TIMEOUT_S = 120.0
TIMING_COLUMNS = ("fit s",)
ELLIPSIS = "..."

_DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s)\b")
_KEY = re.compile(r"ccm_[A-Za-z0-9_-]{32}")
_MARKERS = re.compile(r"(?:\s+#:\s*(?:running|first\s+\d+|exit\s+\d+))+\s*$")
_MARKER = re.compile(r"#:\s*(running|first\s+\d+|exit\s+\d+)")
_HASH = re.compile(r"\b[0-9a-f]{64}\b")
_TABLE_BORDER = set("┏┓┗┛┡┩┠┨┣┫┳┻╇╈┿━─┌┐└┘├┤┬┴┼│┃═╔╗╚╝╠╣╦╩╬║ ╭╮╯╰")
_CELL_SPLIT = re.compile(r"[│┃║]")


@dataclass
class Command:
    """One ``$`` command of a block: its text (continuations joined), markers, and where its output sits."""

    lines: list[str]  # as written, with the "$ " and backslashes
    shown: list[str]
    running: bool = False
    first: int | None = None
    exit_code: int = 0

    @property
    def text(self) -> str:
        joined = " ".join(line.removeprefix("$ ").rstrip().removesuffix("\\").strip() for line in self.lines)
        return _MARKERS.sub("", joined).strip()


@dataclass
class Block:
    start: int  # index of the first line inside the fence
    end: int  # index of the closing fence
    commands: list[Command] = field(default_factory=list)


def parse(text: str) -> tuple[list[str], list[Block]]:
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```console":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            block = Block(start=i + 1, end=j)
            k = i + 1
            while k < j:
                if lines[k].startswith("$ "):
                    cmd = [lines[k]]
                    while cmd[-1].rstrip().endswith("\\") and k + 1 < j:
                        k += 1
                        cmd.append(lines[k])
                    command = Command(lines=cmd, shown=[])
                    tail = _MARKERS.search(cmd[-1])
                    for marker in _MARKER.findall(tail.group(0) if tail else ""):
                        word, *number = marker.split()
                        command.running |= word == "running"
                        command.first = int(number[0]) if word == "first" else command.first
                        command.exit_code = int(number[0]) if word == "exit" else command.exit_code
                    block.commands.append(command)
                elif block.commands:
                    block.commands[-1].shown.append(lines[k])
                k += 1
            blocks.append(block)
            i = j
        i += 1
    return lines, blocks


def _normal_line(line: str, timing_cells: set[int]) -> str:
    line = _DURATION.sub("<t> s", line.rstrip())
    line = _KEY.sub("ccm_<key>", line)
    line = _HASH.sub("<hash>", line)
    if line and set(line.strip()) <= _TABLE_BORDER:
        return "<rule>"
    if _CELL_SPLIT.search(line):
        cells = [c.strip() for c in _CELL_SPLIT.split(line)]
        return " | ".join("" if k in timing_cells else c for k, c in enumerate(cells))
    return line


def normalise(lines: list[str], scratch: str | None = None) -> list[str]:
    out, timing = [], set()
    for line in lines:
        if scratch:
            line = line.replace(scratch + "/", "").replace(scratch, ".")
        if "┃" in line:  # a header row: the positions of the timing columns
            cells = [c.strip() for c in _CELL_SPLIT.split(line)]
            timing = {k for k, c in enumerate(cells) if c in TIMING_COLUMNS}
        out.append(_normal_line(line, timing))
    while out and not out[-1]:
        out.pop()
    return out


def matches(shown: list[str], real: list[str], *, prefix: bool = False) -> bool:
    """Whether ``real`` is ``shown`` with each ``...`` line standing for any lines (``prefix``: and anything after)."""
    parts: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == ELLIPSIS:
            parts.append([])
        else:
            parts[-1].append(line)
    open_end = prefix or len(parts) > 1 and not parts[-1]
    pos = 0
    for n, part in enumerate(parts):
        if n == 0:
            if real[:len(part)] != part:
                return False
            pos = len(part)
            continue
        if not part:
            continue
        last = n == len(parts) - 1 and not open_end
        found = None
        for start in range(len(real) - len(part), pos - 1, -1) if last else range(pos, len(real) - len(part) + 1):
            if real[start:start + len(part)] == part:
                found = start
                break
        if found is None:
            return False
        pos = found + len(part)
    return open_end or pos == len(real)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Outcome:
    command: Command
    stdout: list[str]
    problem: str | None


class Runner:
    """A scratch directory like the repository root, and the environment the commands run in."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ccm-readme-"))
        shutil.copytree(ROOT / "examples", self.dir / "examples")
        (self.dir / ".venv" / "bin").mkdir(parents=True)
        entry = shutil.which("ccm", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "ccm")
        os.symlink(entry, self.dir / ".venv" / "bin" / "ccm")
        (self.dir / "no-data").mkdir()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("CCM_")},
                    "CCM_DATA_DIR": str(self.dir / "no-data"), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "170"}
        self.variables: list[str] = []

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, command: Command) -> Outcome:
        text = command.text
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S+", text):
            self.variables.append(f"export {text}")
            return Outcome(command, [], None)
        script = "\n".join([*self.variables, text])
        if command.running:
            return self._run_running(command, script)
        done = subprocess.run(["bash", "-c", script], cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S)
        problem = None
        if done.returncode != command.exit_code:
            problem = f"exit code {done.returncode}, expected {command.exit_code}: {done.stderr.strip()[-500:]}"
        elif "Traceback" in done.stderr:
            problem = f"a traceback on stderr: {done.stderr[-500:]}"
        return Outcome(command, done.stdout.splitlines(), problem)

    def _run_running(self, command: Command, script: str) -> Outcome:
        port = None
        found = re.search(r"--port\s+(\d+)", script)
        if found:
            port = found.group(1)
            script = script.replace(found.group(0), f"--port {_free_port()}")
            chosen = script.split("--port ")[-1].split()[0]
        out_path = self.dir / ".running.out"
        with open(out_path, "wb") as out, open(self.dir / ".running.err", "wb") as err:
            process = subprocess.Popen(["bash", "-c", f"exec {script}" if "\n" not in script else script],
                                       cwd=self.dir, env=self.env, stdout=out, stderr=err, start_new_session=True)
        expected = normalise([s for s in command.shown if s.strip() != ELLIPSIS])
        deadline = time.monotonic() + (RUNNING_S if expected else QUIET_RUNNING_S)
        while time.monotonic() < deadline and process.poll() is None:
            so_far = out_path.read_text(errors="replace").splitlines()
            if port:
                so_far = [line.replace(chosen, port) for line in so_far]
            if expected and matches(command.shown, normalise(so_far, str(self.dir)), prefix=True):
                break
            time.sleep(0.2)
        alive = process.poll() is None
        if alive:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        stdout = out_path.read_text(errors="replace").splitlines()
        if port:
            stdout = [line.replace(chosen, port) for line in stdout]
        stderr = (self.dir / ".running.err").read_text(errors="replace")
        problem = None
        if not alive and process.returncode != 0:
            problem = f"stopped by itself with exit code {process.returncode}: {stderr.strip()[-500:]}"
        elif "Traceback" in stderr:
            problem = f"a traceback on stderr: {stderr[-500:]}"
        return Outcome(command, stdout, problem)


def check(outcome: Outcome, scratch: str) -> str | None:
    """A description of how the real run differs from the README, None when it does not."""
    if outcome.problem:
        return outcome.problem
    command = outcome.command
    if command.first == 0:
        return None
    shown, real = normalise(command.shown), normalise(outcome.stdout, scratch)
    if command.first is not None:
        real = real[:command.first]
        shown = [s for s in shown if s.strip() != ELLIPSIS]
    if matches(shown, real, prefix=command.running):
        return None
    return "shown:\n  " + "\n  ".join(shown[:40]) + "\nreal:\n  " + "\n  ".join(real[:40])


def run_readme(*, update: bool = False) -> list[str]:
    """Run every console block; return the problems (one text per failing command); with ``update`` rewrite the
    README's shown outputs from the runs."""
    text = README.read_text(encoding="utf-8")
    lines, blocks = parse(text)
    runner = Runner()
    problems: list[str] = []
    replaced: dict[int, list[str]] = {}  # index of a command's last line → the lines shown after it
    try:
        for block in blocks:
            index = block.start
            for command in block.commands:
                while lines[index] != command.lines[0]:
                    index += 1
                last = index + len(command.lines) - 1
                outcome = runner.run(command)
                shown_real = [line.rstrip().replace(str(runner.dir) + "/", "").replace(str(runner.dir), ".")
                              for line in outcome.stdout]
                if command.first is not None:
                    shown_real = shown_real[:command.first] + ([ELLIPSIS] if len(shown_real) > command.first
                                                               and command.first > 0 else [])
                replaced[last] = shown_real
                problem = check(outcome, str(runner.dir))
                if problem:
                    problems.append(f"$ {command.text}\n{problem}")
                index = last + 1
    finally:
        runner.close()
    if update:
        out: list[str] = []
        skip_until_command = False
        in_block = False
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped == "```console":
                in_block = True
            elif in_block and stripped == "```":
                in_block, skip_until_command = False, False
            elif in_block and skip_until_command and not line.startswith("$ "):
                continue
            elif in_block and line.startswith("$ "):
                skip_until_command = False
            out.append(line)
            if i in replaced:
                out.extend(replaced[i])
                skip_until_command = True
        README.write_text("\n".join(out) + "\n", encoding="utf-8")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the README's shown outputs from real runs")
    args = parser.parse_args()
    started = time.monotonic()
    problems = run_readme(update=args.update)
    for problem in problems:
        print(problem, end="\n\n")
    print(f"readme: {len(problems)} command(s) differ; {time.monotonic() - started:.0f} s"
          + (" (README.md rewritten)" if args.update else ""))
    return 1 if problems and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())

"""Profile a running server with py-spy and summarize where the samples fall.

``record`` attaches py-spy (``pip install py-spy`` into the venv) to a process for a bounded
time and writes collapsed stacks; ``summarize`` turns them into three short tables: by area
(registra, django, ninja, psycopg, ...), by function on top of the stack (self), and by function
anywhere in the stack (inclusive). Standalone::

    .venv/bin/python bench/spy.py bench/results/registra-page.txt
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY_HELP = "py-spy is not installed; install it with: .venv/bin/pip install py-spy"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, out: Path, *, seconds: int, rate: int = 200) -> subprocess.Popen:
    """Start py-spy on ``pid`` (and its worker subprocesses); the caller waits for it."""
    exe = py_spy()
    if exe is None:
        raise SystemExit(PY_SPY_HELP)
    cmd = [exe, "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds)]
    # --gil: only the thread holding the GIL, i.e. where the one process spends its CPU.
    cmd += ["--gil", "--rate", str(rate), "--format", "raw", "--nolineno", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if m is None:
        return frame
    file = m.group("file")
    for marker in ("site-packages/", "src/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m.group('func')} ({file})"


def _area(frame: str) -> str:
    """The top-level package or module a frame's file belongs to (py-spy prints paths relative
    to their sys.path entry: ``registra/api/v1/render.py``, ``django/...``, ``threading.py``)."""
    m = _FRAME.match(frame)
    if m is None:
        return "other"
    return m.group("file").split("/", 1)[0].removesuffix(".py") or "other"


def summarize(path: Path, *, top: int = 25) -> str:
    stacks = _stacks(path)
    total = sum(c for _, c in stacks) or 1
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for frames, count in stacks:
        leaf = frames[-1]
        self_time[_short(leaf)] += count
        areas[_area(leaf)] += count
        for frame in set(frames):
            inclusive[_short(frame)] += count
    lines = [f"{total} samples from {path}", "", "self time by package or module:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in areas.most_common(12)]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in self_time.most_common(top)]
    lines += ["", f"top {top} functions by inclusive time:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in inclusive.most_common(top)]
    # The process entry and serve frames cover everything; Registra's own frames tell more.
    ours = [(n, c) for n, c in inclusive.most_common() if "(registra/" in n and c < total // 2]
    lines += ["", "Registra's functions (below the request entry) by inclusive time:"]
    lines += [f"  {100 * c / total:5.1f}%  {name}" for name, c in ours[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summarize(Path(arg)))

"""Where each process spends its CPU during a run: py-spy samples every Python process of the stack
(`python -m services.load.bench --profile DIR`), and each sample is put in the bucket of the
innermost frame that names what the code is for (token verification, proxying, logging, ...).

py-spy samples the thread holding the GIL (`--gil`): py-spy's own idle detection does not work
in this container, so a thread blocked in a queue would count as busy. Code that releases the
GIL is therefore not counted: Argon2 in the gateway's worker threads (about 0.25 CPU-s per
password check here, two per post) and SQLite's own C work; compare with the CPU-seconds.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# In order of precedence when a frame matches several: (bucket, fragments of "function (file)").
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("password hashing (argon2)", ("argon2",)),
    ("token verification (jose, cryptography)", ("/jose/", "/cryptography/", "kit/tokens.py", "kit/auth.py")),
    ("payload encryption (codec)", ("kit/codec.py",)),
    ("logging", ("/logging/", "kit/telemetry.py", "pythonjsonlogger")),
    ("tracing (opentelemetry)", ("/opentelemetry/",)),
    ("screening (presidio, spaCy)", ("/presidio", "/spacy/", "/medspacy/", "/thinc/", "review/screening/")),
    ("database (sqlalchemy, drivers)", ("/sqlalchemy/", "/aiosqlite/", "/asyncpg/", "/sqlite3/", "greenlet")),
    ("Temporal SDK", ("/temporalio/",)),
    ("HTTP client, proxying (httpx, httpcore, h11)", ("/httpx/", "/httpcore/", "/h11/", "/anyio/")),
    (
        "web framework (uvicorn, starlette, fastapi, pydantic)",
        ("/uvicorn/", "/starlette/", "/fastapi/", "/pydantic"),
    ),
    ("JSON", ("/json/", "orjson")),
    ("asyncio event loop", ("/asyncio/", "/selectors.py")),
    ("Clearpost code", ("(/services/", "(/workflows/")),
)
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def available() -> bool:
    return _binary() is not None


def _binary() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Sampler:
    """py-spy recording each process until `stop()`; raw collapsed stacks in `directory`."""

    def __init__(self, directory: Path, pids: dict[str, int], *, rate: int = 50) -> None:
        binary = _binary()
        if binary is None:
            raise RuntimeError("py-spy is not installed (pip install -c constraints.txt py-spy)")
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        command = [binary, "record", "--rate", str(rate), "--format", "raw", "--gil"]
        self._recorders = [
            subprocess.Popen(
                [*command, "--pid", str(pid), "--output", str(directory / f"{name}.txt")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        ]

    def stop(self) -> None:
        for recorder in self._recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in self._recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()


def bucket_of(frames: list[str]) -> str:
    """The bucket of a stack (root first): its innermost frame that matches one."""
    for frame in reversed(frames):
        match = FRAME.match(frame)
        # py-spy names files relative to their sys.path entry (sqlalchemy/orm/session.py).
        where = f"{match['function']} (/{match['file']})" if match else frame
        for name, fragments in BUCKETS:
            if any(fragment in where for fragment in fragments):
                return name
    return "other"


def summarize(path: Path) -> Counter[str]:
    """Samples per bucket in one raw py-spy recording."""
    totals: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            totals[bucket_of(stack.split(";")[1:])] += int(count)  # the first frame is the thread
    return totals


def report(directory: Path, *, rate: int = 50, top: int = 6) -> str:
    lines = [f"Where the Python time goes (py-spy, {rate} samples/s of the GIL holder; {directory}):"]
    for path in sorted(directory.glob("*.txt")):
        totals = summarize(path)
        samples = sum(totals.values())
        if not samples:
            continue
        parts = ", ".join(f"{name} {n / samples:.0%}" for name, n in totals.most_common(top))
        lines.append(f"  {path.stem} ({samples / rate:.1f} s holding the GIL): {parts}")
    return "\n".join(lines)

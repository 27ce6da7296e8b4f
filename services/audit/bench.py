"""`python -m services.audit.bench`: the audit log's numbers on this machine (run by `make bench`).

1. append throughput: events/s through AuditLog.append (one committed transaction per event,
   chain link + Merkle nodes + a signed head every 1,000 events), SQLite in WAL mode.
2. a log of N events (default 1,000,000) bulk-inserted with real hashes, leaves and tree nodes
   (not through the API: that would measure step 1 for an hour).
3. the service's own verify over that log (chain, every leaf, every signed head): events/s.
4. export of the whole log: the real audit service (`clearpost serve audit`, as a subprocess)
   streamed by the real command (`python -m services.audit.cli export`): events/s, and the peak
   RSS of each process (Linux VmHWM / wait4).
5. offline verification of that export by `python -m services.audit.cli verify --key`:
   events/s (JSON parsing included) and its peak RSS.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from services.audit.entries import hashed_entry
from services.audit.merkle import leaf_hash, node_hash
from services.audit.schemas import AuditEventIn
from services.audit.service import AuditService
from services.audit.signing import load_or_create_audit_key
from services.audit.writer import AuditLog
from services.kit.canonical import canonical_json
from services.kit.db import create_engine, create_sessionmaker, upgrade_to_head
from services.kit.tokens import Principal, issue_access_token, load_or_create_signing_key

REPO_ROOT = Path(__file__).resolve().parents[2]
BULK_BATCH = 10_000

app = typer.Typer(add_completion=False)


def _report(name: str, value: str) -> None:
    typer.echo(f"{name:<52} {value}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status in MB: VmHWM (peak RSS) or VmRSS (now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench_append(url: str, count: int, key_path: Path) -> float:
    engine = create_engine(url)
    log = AuditLog(
        create_sessionmaker(engine), signer=load_or_create_audit_key(key_path), head_every_events=1000
    )
    started = time.perf_counter()
    for n in range(count):
        await log.append(
            AuditEventIn(
                idempotency_key=f"bench:{n}",
                actor=f"user:{n % 50}",
                actor_name="Bench Mark",
                actor_roles=["author"],
                action="draft.created",
                subject=f"draft:{n % 1000:08d}",
                service="bench",
                details={"n": n, "content_hash": "ab" * 32},
            )
        )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return count / elapsed


def bulk_log(path: Path, count: int) -> None:
    """Insert `count` events with real chain hashes, leaves and every complete subtree's root."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = "0" * 64
    edge: list[tuple[int, bytes]] = []
    events: list[tuple[Any, ...]] = []
    nodes: list[tuple[int, int, bytes]] = []
    for index in range(count):
        seq = index + 1
        at = (start + timedelta(milliseconds=seq)).isoformat(timespec="microseconds")
        subject = f"draft:{seq % 5000:08d}"
        details = {"n": seq, "content_hash": "ab" * 32, "service": "bench"}
        optional = {"service": "bench", "actor_name": "Bench Mark", "actor_roles": ["author"]}
        entry = hashed_entry(
            seq=seq,
            at=at,
            actor=f"user:{seq % 50}",
            action="draft.created",
            subject=subject,
            details=details,
            idempotency_key=f"bulk:{seq}",
            prev_hash=prev,
            **optional,
        )
        data = canonical_json(entry)
        digest = hashlib.sha256(data).hexdigest()
        events.append(
            (
                seq,
                at,
                entry["actor"],
                "draft.created",
                subject,
                subject[6:],
                json.dumps(details),
                entry["idempotency_key"],
                prev,
                digest,
                "bench",
                "Bench Mark",
                json.dumps(["author"]),
            )
        )
        prev = digest
        level, position, node = 0, index, leaf_hash(data)
        nodes.append((0, index, node))
        while edge and edge[-1][0] == level:
            node = node_hash(edge.pop()[1], node)
            level, position = level + 1, position >> 1
            nodes.append((level, position, node))
        edge.append((level, node))
        if len(events) >= BULK_BATCH:
            _flush(db, events, nodes)
    _flush(db, events, nodes)
    db.close()


def _flush(
    db: sqlite3.Connection, events: list[tuple[Any, ...]], nodes: list[tuple[int, int, bytes]]
) -> None:
    db.executemany(
        "INSERT INTO audit_events (seq, at, actor, action, subject, draft_id, details, idempotency_key,"
        " prev_hash, hash, service, actor_name, actor_roles) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        events,
    )
    db.executemany("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (?,?,?)", nodes)
    db.commit()
    events.clear()
    nodes.clear()


async def bench_service_verify(url: str) -> tuple[float, int]:
    engine = create_engine(url)
    started = time.perf_counter()
    async with create_sessionmaker(engine)() as session:
        result = await AuditService(session).verify(batch_size=5000)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    if not result.ok:
        raise SystemExit(f"bench log does not verify: {result}")
    return result.events / elapsed, result.events


class _Jwks(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


# Runs a module and reports its own peak RSS (VmHWM of its own address space: a figure from
# wait4 would include the memory of this forking benchmark process).
_MEASURED = (
    "import atexit, pathlib, runpy, sys\n"
    "def peak():\n"
    "    for line in pathlib.Path('/proc/self/status').read_text().splitlines():\n"
    "        if line.startswith('VmHWM:'): sys.stderr.write('PEAK_KB=' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)


def _run_measured(module: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of `python -m module args`; exits when the command fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, module, *args], env=env, cwd=REPO_ROOT, capture_output=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))
        raise SystemExit(f"{module} {args[0]} failed")
    peaks = [line for line in done.stderr.decode().splitlines() if line.startswith("PEAK_KB=")]
    return elapsed, int(peaks[-1].split("=")[1]) / 1024 if peaks else float("nan")


def bench_export_and_verify(workdir: Path, db_url: str, count: int) -> None:
    token_key = load_or_create_signing_key(workdir / "gateway.pem")
    _Jwks.body = json.dumps({"keys": [token_key.public_jwk]}).encode()
    jwks = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), _Jwks)
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    audit_url = f"http://127.0.0.1:{_free_port()}"
    env = {
        **os.environ,
        "CLEARPOST_VAR_DIR": str(workdir / "var"),
        "CLEARPOST_AUDIT_DATABASE_URL": db_url,
        "CLEARPOST_AUDIT_URL": audit_url,
        "CLEARPOST_GATEWAY_URL": f"http://127.0.0.1:{jwks.server_address[1]}",
        "CLEARPOST_TEMPORAL_ENABLED": "false",
        "CLEARPOST_LOG_LEVEL": "warning",
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "audit"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{audit_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or service.poll() is not None:
                raise SystemExit("the audit service did not start")
            time.sleep(0.2)
        _report("export: RSS of the audit service at rest", f"{_status_mb(service.pid, 'VmRSS'):,.0f} MB")
        principal = Principal(
            user_id="bench", username="bench", name="Bench Auditor", roles=frozenset({"auditor"})
        )
        token = issue_access_token(
            token_key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=3600
        )
        export_file = workdir / "export.jsonl"
        key_file = workdir / "audit-key.json"
        key_file.write_text(httpx.get(f"{audit_url}/api/v1/audit/public-key").text)
        cli = "services.audit.cli"
        seconds, cli_rss = _run_measured(
            cli, ["export", "-o", str(export_file), "--url", audit_url, "--token", token], env
        )
        service_rss = _status_mb(service.pid, "VmHWM")
        exported = count + 1  # the export records itself first
        _report("export: events/s (service -> command -> file)", f"{exported / seconds:,.0f}")
        _report("export: size of the file", f"{export_file.stat().st_size / 2**20:,.0f} MiB")
        _report("export: peak RSS of the audit service", f"{service_rss:,.0f} MB")
        _report("export: peak RSS of `clearpost audit export`", f"{cli_rss:,.0f} MB")
        seconds, verify_rss = _run_measured(cli, ["verify", str(export_file), "--key", str(key_file)], env)
        _report("verify export offline: events/s (JSON parsing incl.)", f"{exported / seconds:,.0f}")
        _report("verify export offline: peak RSS of the command", f"{verify_rss:,.0f} MB")
    finally:
        service.terminate()
        service.wait(timeout=30)
        jwks.shutdown()


@app.command()
def main(
    events: Annotated[int, typer.Option(help="size of the log for verify and export")] = 1_000_000,
    appends: Annotated[int, typer.Option(help="events appended one by one for throughput")] = 2_000,
    workdir: Annotated[Path | None, typer.Option(help="keep the files here (default: a temp dir)")] = None,
) -> None:
    """Print append, verify and export figures for this machine."""
    with tempfile.TemporaryDirectory(prefix="clearpost-bench-") as tmp:
        root = workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        append_db = root / "append.db"
        append_url = f"sqlite+aiosqlite:///{append_db}"
        upgrade_to_head("audit", append_url)
        rate = asyncio.run(bench_append(append_url, appends, root / "bench-audit.pem"))
        _report("append: events/s (one committed transaction each)", f"{rate:,.0f}")

        log_db = root / "log.db"
        log_url = f"sqlite+aiosqlite:///{log_db}"
        upgrade_to_head("audit", log_url)
        started = time.perf_counter()
        bulk_log(log_db, events)
        _report(f"bulk-built a log of {events:,} events in", f"{time.perf_counter() - started:,.0f} s")
        rate, verified = asyncio.run(bench_service_verify(log_url))
        _report(f"service verify of {verified:,} events: events/s", f"{rate:,.0f}")
        bench_export_and_verify(root, log_url, events)


if __name__ == "__main__":
    app()

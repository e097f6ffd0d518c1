"""Child processes of the stack: free ports, launching with a log, readiness polling, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from servebench.errors import UsageError

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


def spawn(
    command: list[str], log: Path, env: dict[str, str], cwd: Path, cpus: list[int] | None = None
) -> subprocess.Popen:
    """Start ``command`` in a session of its own, so its whole tree can be stopped; output goes
    to ``log``. With ``cpus``, it and everything it starts run on those CPUs only."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            cwd=cwd,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    try:
        root = psutil.Process(pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def session_members(session_id: int) -> list[int]:
    """Every live process in session ``session_id``; spawn() makes each launched process lead
    its own session, so this finds its descendants even after they are re-parented."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id:
                members.append(process.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return members


def session_tree(leader: int) -> list[int]:
    """The process ``leader`` started by spawn(), its descendants and the rest of its session."""
    return sorted(set(process_tree(leader)) | set(session_members(leader)))


def stop_session(leader: int, grace: float = 20.0) -> list[int]:
    """Stop the process ``leader`` started by spawn() and everything in its session."""
    return stop_tree(session_tree(leader), grace)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_tree(pids: list[int], grace: float = 20.0) -> list[int]:
    """SIGTERM ``pids`` (a process and its descendants), then SIGKILL what outlives ``grace``.

    Returns the PIDs that were still alive and had to be killed.
    """
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    for process in processes:
        _signal(process, signal.SIGTERM)
    survivors = _wait_exited(processes, grace)
    for process in survivors:
        _signal(process, signal.SIGKILL)
    _wait_exited(survivors, 5)
    return [process.pid for process in survivors]


def _wait_exited(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; return those still running after ``timeout``.

    A zombie has exited: it only waits for its parent to collect it, and for a server whose
    launcher is gone that parent is PID 1, which may take a second or two (psutil.wait_procs
    waited for that). Our own children are collected here."""
    deadline = time.monotonic() + timeout
    running = list(processes)
    while True:
        running = [process for process in running if _running(process)]
        if not running or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for process in processes:
        if process not in running:
            with contextlib.suppress(psutil.Error):
                process.wait(timeout=0)  # collects a child of ours; another's stays PID 1's
    return running


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal(process: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signum)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    process: subprocess.Popen,
    log: Path,
) -> float:
    """Poll ``check`` until it is true; fail with the log's tail if ``process`` dies or time runs
    out. Returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise UsageError(f"{what} exited with code {process.returncode}: {log_tail(log)}")
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass  # not listening yet
        time.sleep(0.25)
    raise UsageError(f"{what} was not ready after {timeout:.0f} s: {log_tail(log)}")


def log_tail(log: Path, lines: int = 3) -> str:
    """The last lines of a log, joined on one line, for one-line error messages."""
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"(no log at {log})"
    tail = " | ".join(line.strip() for line in text[-lines:])
    return f"{tail} (full log: {log})"

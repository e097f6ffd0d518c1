"""CPU sets: the servers on one, the load generator on another, so neither steals from the other."""

from __future__ import annotations

import os
from pathlib import Path

from servebench.errors import UsageError


def available() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def default_split() -> tuple[list[int], list[int]]:
    """(server CPUs, load-generator CPUs): the first half for servers, the rest for Locust.

    On one CPU both share it, and results say so.
    """
    cpus = available()
    if len(cpus) < 2:
        return cpus, cpus
    half = len(cpus) // 2
    return cpus[:half], cpus[half:]


def parse(text: str) -> list[int]:
    """``"0"``, ``"0,2"`` or ``"0-3"`` -> CPU numbers, checked against what this process may use."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise UsageError(f"cannot read CPU list {text!r}; write it like 0 or 0,1 or 0-3") from None
    unknown = sorted(cpus - set(available()))
    if unknown or not cpus:
        raise UsageError(f"CPU list {text!r} names CPUs this machine does not offer: {available()}")
    return sorted(cpus)


def pin_processes(pids: list[int], cpus: list[int]) -> None:
    """Pin every thread of every process in ``pids`` (affinity is per thread on Linux)."""
    for pid in pids:
        for task in _tasks(pid):
            try:
                os.sched_setaffinity(task, cpus)
            except (ProcessLookupError, PermissionError):
                continue


def _tasks(pid: int) -> list[int]:
    try:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except FileNotFoundError:
        return []

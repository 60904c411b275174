"""What Linux's /proc says about one process: its memory now and at its peak, its CPU time.

Peaks come from VmHWM, not getrusage's ru_maxrss: ru_maxrss survives exec, so a process started
by a bigger one (a benchmark's child, a benchmark run by pytest) would report its parent's peak as
its own. VmHWM belongs to the address space, which exec replaces. Only the stdlib is imported
here, so that a child measuring itself carries nothing it would not carry anyway.
"""

from __future__ import annotations

import os
from pathlib import Path


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """Resident memory now."""
    return _status_mb(pid, "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory since the process started its program."""
    return _status_mb(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

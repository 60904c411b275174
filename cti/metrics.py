"""Prometheus counters and gauges, rendered in the text exposition format for /metrics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

Labels = tuple[tuple[str, str], ...]


class Metrics:
    def __init__(self) -> None:
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._gauges: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._gauge_fns: dict[str, dict[Labels, Callable[[], float]]] = defaultdict(dict)
        self._help: dict[str, str] = {}

    def describe(self, name: str, text: str) -> None:
        self._help[name] = text

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        series = self._counters[name]
        series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._gauges[name][_labels(labels)] = value

    def gauge_fn(self, name: str, read: Callable[[], float], **labels: str) -> None:
        """A gauge read when scraped (a queue depth), so the hot path pays nothing for it."""
        self._gauge_fns[name][_labels(labels)] = read

    def value(self, name: str, **labels: str) -> float:
        key = _labels(labels)
        if name in self._gauge_fns and key in self._gauge_fns[name]:
            return float(self._gauge_fns[name][key]())
        return self._counters.get(name, {}).get(key, self._gauges.get(name, {}).get(key, 0.0))

    def render(self) -> str:
        lines: list[str] = []
        for kind, table in (("counter", self._counters), ("gauge", self._gauges)):
            for name in sorted(table):
                lines += self._header(name, kind)
                lines += [f"{name}{_fmt(k)} {v:g}" for k, v in sorted(table[name].items())]
        for name in sorted(self._gauge_fns):
            lines += self._header(name, "gauge")
            for key, read in sorted(self._gauge_fns[name].items()):
                lines.append(f"{name}{_fmt(key)} {float(read()):g}")
        return "\n".join(lines) + "\n"

    def _header(self, name: str, kind: str) -> list[str]:
        head = [f"# TYPE {name} {kind}"]
        if name in self._help:
            head.insert(0, f"# HELP {name} {self._help[name]}")
        return head


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _fmt(labels: Labels) -> str:
    if not labels:
        return ""
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + body + "}"

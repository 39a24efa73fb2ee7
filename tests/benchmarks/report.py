"""Benchmark figures printed beside their peer from the same run, and kept as JSON.

Every figure a benchmark reports goes through :class:`Report`: the value, its unit,
the peer measured in the same process and run (bare Flask for single ingest, raw
DB-API ``executemany`` for bulk writes, the naive pandas path for reads), the
ratio, and the target the ratio or the value is held to. Absolute numbers move
with the machine's load; the ratio against a peer measured seconds apart is what
compares across runs, so it is printed and stored next to each figure.

The JSON copy goes to ``$ENERGY_DASH_BENCH_JSON`` (default
``instance/bench/latest.json``): one object per benchmark script, merged into the
file so that ``run_all.py`` (one process per script) ends with one document.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
JSON_ENV = "ENERGY_DASH_BENCH_JSON"
DEFAULT_JSON = REPO / "instance" / "bench" / "latest.json"


def json_path() -> Path:
    """Where the machine-readable copy goes (env var, else instance/bench/)."""
    return Path(os.environ.get(JSON_ENV) or DEFAULT_JSON)


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (the noise every figure was taken under)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    """What a figure depends on besides the code: cores, load, Python, commit."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
            text=True, timeout=5, check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "python": platform.python_version(),
        "commit": commit,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class Figure:
    """One measured value, its same-run peer and the verdict against the target."""

    name: str
    value: float
    unit: str
    peer: float | None = None
    peer_name: str | None = None
    ratio: float | None = None
    target: float | None = None
    target_of: str = "value"  # "value" or "ratio"
    higher_is_better: bool = True
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _number(value: float, unit: str) -> str:
    if unit in ("s", "ms"):
        return f"{value:,.3f} {unit}" if value < 10 else f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}" if abs(value) >= 100 else f"{value:,.2f} {unit}"


class Report:
    """The figures of one benchmark script: printed as they come, saved at the end."""

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.figures: list[Figure] = []
        self.started = machine()

    def figure(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        peer: float | None = None,
        peer_name: str | None = None,
        target: float | None = None,
        target_of: str = "value",
        higher_is_better: bool = True,
        note: str = "",
        **extra: Any,
    ) -> Figure:
        """Record and print one figure; ``target`` applies to the value or the ratio.

        The ratio is always value / peer: for a throughput (higher is better) 0.7
        means 70 % of the peer's rate; for a time (lower is better) 0.2 means a
        fifth of the peer's time.
        """
        ratio = value / peer if peer else None
        checked = ratio if target_of == "ratio" else value
        met = None
        if target is not None and checked is not None:
            met = checked >= target if higher_is_better else checked <= target
        fig = Figure(name, float(value), unit, None if peer is None else float(peer),
                     peer_name, ratio, target, target_of, higher_is_better, met, note,
                     extra)
        self.figures.append(fig)
        print(self.line(fig), flush=True)
        return fig

    @staticmethod
    def line(fig: Figure) -> str:
        text = f"  {fig.name}: {_number(fig.value, fig.unit)}"
        if fig.peer is not None:
            text += f" | {fig.peer_name or 'peer'}: {_number(fig.peer, fig.unit)}"
            text += f" | ratio {fig.ratio:.2f}x"
        if fig.target is not None:
            sign = ">=" if fig.higher_is_better else "<="
            what = "ratio " if fig.target_of == "ratio" else ""
            suffix = "x" if fig.target_of == "ratio" else f" {fig.unit}"
            verdict = "OK" if fig.met else "MISSED"
            text += f" (target {what}{sign} {fig.target:g}{suffix}) {verdict}"
        if fig.note:
            text += f" [{fig.note}]"
        return text

    def missed(self) -> list[Figure]:
        return [f for f in self.figures if f.met is False]

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished": machine(),
            "figures": [asdict(f) for f in self.figures],
        }

    def save(self, path: Path | None = None) -> Path:
        """Merge this script's figures into the JSON document (atomic replace)."""
        target = path or json_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        document: dict[str, Any] = {}
        if target.exists():
            try:
                document = json.loads(target.read_text())
            except (OSError, ValueError):
                logger.warning("benchmark JSON %s unreadable; starting afresh", target)
                document = {}
        document.setdefault("benchmarks", {})[self.bench] = self.as_dict()
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True))
        tmp.replace(target)
        print(f"  (figures saved to {target})", flush=True)
        return target


def start_run(path: Path | None = None) -> Path:
    """A fresh document for a whole ``make bench`` run (run_all.py calls this)."""
    target = path or json_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"run": machine(), "benchmarks": {}}, indent=2))
    return target


def summary(path: Path | None = None) -> list[str]:
    """One line per figure with a target, from the saved document."""
    document = json.loads((path or json_path()).read_text())
    lines = []
    for bench, section in document.get("benchmarks", {}).items():
        for fig in section.get("figures", []):
            if fig.get("met") is None:
                continue
            ratio = f" ratio {fig['ratio']:.2f}x" if fig.get("ratio") else ""
            lines.append(
                f"{'OK    ' if fig['met'] else 'MISSED'} {bench}: {fig['name']} "
                f"{_number(fig['value'], fig['unit'])}{ratio}"
            )
    return lines


__all__ = ["Figure", "Report", "json_path", "load_average", "machine", "start_run",
           "summary"]

"""`make bench`: each tests/benchmarks/bench_*.py in its own process.

Each script prints its figures beside their same-run peers (see ``report.py``)
and merges them into one JSON document (``$ENERGY_DASH_BENCH_JSON``, default
``instance/bench/latest.json``); a timestamped copy is kept next to it so runs
can be compared. ``BENCH_ONLY=ingest,data`` runs a subset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from report import json_path, start_run, summary  # noqa: E402


def main() -> int:
    only = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
    path = start_run()
    env = dict(os.environ, ENERGY_DASH_BENCH_JSON=str(path))
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        if only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent.parent,
                               env=env)
        if code:
            failures += 1
            print(f"!!! {script.name} exited with {code}", flush=True)
    copy = path.with_name(time.strftime("run-%Y%m%dT%H%M%SZ.json", time.gmtime()))
    shutil.copyfile(path, copy)
    print(f"\n=== summary (JSON: {json_path()}, copy {copy.name}) ===")
    for line in summary(path):
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

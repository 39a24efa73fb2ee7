"""`make bench`: each tests/benchmarks/bench_*.py in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.stem} ===", flush=True)
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent.parent)
        if code:
            failures += 1
            print(f"!!! {script.name} exited with {code}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

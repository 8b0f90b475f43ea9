"""Run the kit's benchmarks and write `.bench/results.json`.

Each `bench/bench_*.py` module defines `run() -> dict[str, float | str | dict]`,
measuring a baseline and the kit in the same process, so ratios compare like
with like on whatever machine runs them. Usage:

    python bench/run.py            # every benchmark
    python bench/run.py qlearner   # only bench/bench_qlearner.py
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

from tapelab import environment

environment.apply()  # TensorFlow quiet and repeatable before any benchmark imports it

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / ".bench" / "results.json"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def main(argv: list[str]) -> int:
    only = set(argv)
    modules = sorted(HERE.glob("bench_*.py"))
    if only:
        modules = [m for m in modules if m.stem.removeprefix("bench_") in only]
    results: dict[str, object] = {}
    if OUT.exists():  # keep figures of benchmarks not run this time
        results = json.loads(OUT.read_text()).get("results", {})
    for path in modules:
        print(f"== {path.stem.removeprefix('bench_')}", flush=True)
        start = time.perf_counter()
        figures = _load(path).run()
        for key, value in figures.items():
            print(f"  {key:<34} {_fmt(value)}")
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
        results.update(figures)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "results": results,
    }, indent=2, sort_keys=True))
    print(f"results written to {OUT.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Time whole `yanex list` / `yanex compare` invocations over 2,000 and 10,000 experiments.

Each figure is the median wall time of `--runs` CLI processes (after one warm-up run,
so the files are in the page cache), printed next to its target, with the median CPU
time of the same runs (on a busy machine the wall time includes others' load). Stores are made by
`make_store.py` in `--work-dir` and reused by later runs. When the original yanex is
installed (`--original`, default /work/.yanex-orig/bin/yanex), its `yanex list` is timed
on a store of the same experiments in its own format.

Example:
    python benchmarks/bench_query.py --sizes 2000 10000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORIGINAL = Path("/work/.yanex-orig/bin/yanex")
# (label, arguments, target seconds at 2,000, target at 10,000)
CASES = [
    ("list", ["list"], 0.5, 1.0),
    ("list, filtered -s -t", ["list", "-s", "completed", "-t", "sweep"], 0.5, 1.0),
    ("list, filtered -w", ["list", "-w", "lr<0.01", "-w", "metric:accuracy>=0.8"], 0.5, 1.0),
    ("compare --batch (one sweep, 50)", ["compare", "--batch", "00000010"], 1.5, 1.5),
    ("compare -t sweep -s failed", ["compare", "-t", "sweep", "-s", "failed"], 1.5, 1.5),
    ("compare, all -F csv", ["compare", "-F", "csv"], 1.5, 1.5),
]
COLD = ("list, no index yet (first run)", ["list"])
ORIGINAL_CASES = [
    ("original list", ["list", "-g"]),
    ("original list, filtered -s -t", ["list", "-g", "-s", "completed", "-t", "sweep"]),
]


def yanex_command() -> list[str]:
    """The installed `yanex` script next to this interpreter (no pyenv shim in the way)."""
    script = Path(sys.executable).parent / "yanex"
    return [str(script)] if script.exists() else [sys.executable, "-m", "yanex"]


def ensure_store(root: Path, count: int, layout: str) -> Path:
    """Generate the store once; reuse it when it is already there."""
    if not root.exists():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "make_store.py"),
                str(root),
                "--count",
                str(count),
                "--format",
                layout,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return root


def median_seconds(
    command: list[str], env: dict[str, str], runs: int, cwd: Path, fresh_index: Path | None = None
) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of `runs` runs of `command`.

    One warm-up run comes first. CPU time is printed too because on a shared machine
    the wall time also measures everyone else's load. With `fresh_index`, that listing
    index is removed before every run (a cold listing).
    """
    walls, cpus = [], []
    for attempt in range(runs + 1):
        if fresh_index is not None:
            fresh_index.unlink(missing_ok=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            command,
            env=env,
            cwd=cwd,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if attempt:
            walls.append(wall)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def bench_size(count: int, work: Path, runs: int, original: Path | None) -> list[str]:
    """Time every case at one store size; return printable result lines."""
    store = ensure_store(work / f"yanex-{count}", count, "yanex")
    env = {**os.environ, "YANEX_EXPERIMENTS_DIR": str(store)}
    lines = []
    for label, arguments, small, large in CASES:
        target = small if count <= 2000 else large
        wall, cpu = median_seconds([*yanex_command(), *arguments], env, runs, work)
        verdict = "ok" if wall <= target else "MISSED"
        lines.append(_line(count, label, wall, cpu, f"target <= {target:.1f} s  {verdict}"))
    cold_label, cold_arguments = COLD
    index = store / ".yanex-index.json"
    wall, cpu = median_seconds([*yanex_command(), *cold_arguments], env, runs, work, index)
    lines.append(_line(count, cold_label, wall, cpu, "(once per store)"))
    if original is not None:
        old_store = ensure_store(work / f"original-{count}", count, "original")
        old_env = {**os.environ, "YANEX_EXPERIMENTS_DIR": str(old_store)}
        for label, arguments in ORIGINAL_CASES:
            wall, cpu = median_seconds([str(original), *arguments], old_env, runs, work)
            lines.append(_line(count, label, wall, cpu, "(yanex 0.6.1)"))
    return lines


def _line(count: int, label: str, wall: float, cpu: float, note: str) -> str:
    return f"{count:>6}  {label:<34} {wall:6.2f} s  (cpu {cpu:5.2f} s)   {note}"


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the benchmarks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, help="where stores are generated and kept")
    parser.add_argument("--original", type=Path, default=ORIGINAL, help="original yanex script")
    parser.add_argument("--no-original", action="store_true", help="skip the original yanex")
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.gettempdir()) / "yanex-bench-query"
    work.mkdir(parents=True, exist_ok=True)
    original = None if args.no_original or not args.original.exists() else args.original
    print(f"yanex: {' '.join(yanex_command())}; median of {args.runs} runs; stores in {work}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for count in args.sizes:
        for line in bench_size(count, work, args.runs, original):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sweep throughput: a 40-member sweep of an empty script through `yanex run`, in experiments/s.

Runs `yanex run empty.py -p "x=range(40)" -j 2` and the same sweep sequentially, each
into its own temporary experiments directory, and, when the original yanex 0.6.1 is
installed in a side venv, its equivalent (`--param ... --parallel 2`) in the same run,
so that both see the same machine load. Every member must end `completed`, else the
figure is not printed as valid. This is a measurement, not a test.

The script of every member is `import yanex; yanex.log_metrics({"a": 1})`: what is
measured is yanex's own cost per experiment (records, supervision, the child
interpreter and `import yanex`), not any work. The last lines break the child's cost
down: bare interpreter, `site` (.pth files), and `import yanex`.

Example:
    python benchmarks/bench_sweep.py
    python benchmarks/bench_sweep.py --members 40 --parallel 2 --repeat 3
    YANEX_BASELINE_BIN=/path/to/venv/bin/yanex python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASELINE = "/work/.yanex-orig/bin/yanex"
TARGET = 20.0  # experiments/s for a 40-member -j 2 sweep on a 2-core machine
SCRIPT = 'import yanex\nyanex.log_metrics({"a": 1})\n'


@dataclass
class Figure:
    """One measured configuration: its label and the wall times of its repeats."""

    label: str
    walls: list[float]
    members: int
    valid: bool = True

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def rate(self) -> float:
        return self.members / self.wall


def ours_command() -> list[str]:
    """This checkout's `yanex` console script (or `python -m yanex` without one)."""
    script = Path(sys.executable).with_name("yanex")
    return [str(script)] if script.exists() else [sys.executable, "-m", "yanex"]


def baseline_command() -> list[str] | None:
    """The original yanex: `YANEX_BASELINE_BIN`, else the side venv if it is there."""
    path = os.environ.get("YANEX_BASELINE_BIN") or DEFAULT_BASELINE
    return [path] if Path(path).exists() else None


def completed_count(store: Path) -> int:
    count = 0
    for metadata in store.glob("*/metadata.json"):
        if json.loads(metadata.read_text()).get("status") == "completed":
            count += 1
    return count


def time_sweep(command: list[str], workdir: Path, store: Path, members: int) -> float | None:
    """Wall time of one sweep into a fresh `store`; None unless every member completed."""
    shutil.rmtree(store, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YANEX_")}
    env["YANEX_EXPERIMENTS_DIR"] = str(store)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    finished = completed_count(store)
    if done.returncode != 0 or finished != members:
        print(
            f"  ! {' '.join(command[-6:])}: exit {done.returncode}, {finished}/{members} "
            f"completed\n{done.stderr[-800:]}",
            file=sys.stderr,
        )
        return None
    return wall


def configurations(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    sweep = f"x=range({args.members})"
    ours = ours_command()
    runs = [
        (
            f"ours      -j {args.parallel}",
            [*ours, "run", "empty.py", "-p", sweep, "-j", str(args.parallel)],
        )
    ]
    if not args.no_sequential:
        runs.append(("ours      sequential", [*ours, "run", "empty.py", "-p", sweep]))
    baseline = baseline_command()
    if baseline is not None:
        original = [*baseline, "run", "empty.py", "--param", sweep]
        runs.append(
            (f"original  -j {args.parallel}", [*original, "--parallel", str(args.parallel)])
        )
        if not args.no_sequential:
            runs.append(("original  sequential", original))
    return runs


def measure(args: argparse.Namespace, workdir: Path) -> list[Figure]:
    """Every configuration `repeat` times, interleaved so that they share the load."""
    runs = configurations(args)
    figures = [Figure(label, [], args.members) for label, _ in runs]
    for _ in range(args.repeat):
        for figure, (_, command) in zip(figures, runs, strict=True):
            store = workdir / "stores" / figure.label.replace(" ", "")
            wall = time_sweep(command, workdir, store, args.members)
            if wall is None:
                figure.valid = False
            else:
                figure.walls.append(wall)
    return figures


def child_cost(repeat: int = 10) -> dict[str, float]:
    """Mean wall ms of the pieces every member pays: interpreter, site, import yanex."""
    python = sys.executable
    probes = {
        "python -S -c pass": [python, "-S", "-c", "pass"],
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import yanex'": [python, "-c", "import yanex"],
    }
    costs = {}
    for label, command in probes.items():
        started = time.perf_counter()
        for _ in range(repeat):
            subprocess.run(command, check=True)
        costs[label] = (time.perf_counter() - started) / repeat * 1000
    return costs


def report(figures: list[Figure], args: argparse.Namespace) -> None:
    cpus = os.cpu_count() or 1
    print(
        f"yanex sweep throughput: {args.members} members of an empty script, "
        f"{cpus} CPU(s), median of {args.repeat}"
    )
    for figure in figures:
        if not figure.valid or not figure.walls:
            print(f"  {figure.label:24} failed (see above)")
            continue
        print(f"  {figure.label:24} {figure.wall:6.2f} s  {figure.rate:6.1f} experiments/s")
    by_label = {f.label.split()[0] + " " + f.label.split()[-1]: f for f in figures if f.valid}
    ours = by_label.get(f"ours {args.parallel}")
    original = by_label.get(f"original {args.parallel}")
    if baseline_command() is None:
        print("  original yanex: baseline not installed (set YANEX_BASELINE_BIN)")
    if ours is not None:
        verdict = "met" if ours.rate >= TARGET else "not met"
        print(
            f"  target {TARGET:.0f} experiments/s at -j {args.parallel}: {ours.rate:.1f} "
            f"= {ours.rate / TARGET:.2f}x of target ({verdict})"
        )
        if original is not None:
            print(f"  ours vs original at -j {args.parallel}: {ours.rate / original.rate:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-sequential", action="store_true", help="only the -j figures")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="yanex-bench-"))
    try:
        (workdir / "empty.py").write_text(SCRIPT)
        figures = measure(args, workdir)
        report(figures, args)
        costs = child_cost()
        print("  per-member child cost: " + ", ".join(f"{k} {v:.0f} ms" for k, v in costs.items()))
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            print("  note: PYTHONDONTWRITEBYTECODE is set: every child compiles yanex from source")
    finally:
        if args.keep:
            print(f"  stores kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(f.valid for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())

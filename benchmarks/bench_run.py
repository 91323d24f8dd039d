"""Overheads of tracking one run, measured on this machine, next to their targets.

    python benchmarks/bench_run.py [--runs 7] [--baseline /path/to/original/bin/yanex]

Prints the median of `yanex run empty.py` and of `python empty.py` (empty.py:
`import yanex; yanex.log_metrics({"a": 1})`) and their ratio; the time of
`import yanex` (`python -X importtime`, min and median); 10,000 `log_metrics` calls
in one run; `yanex list` over 2,000 and 10,000 experiments; `yanex --version`. When the
original yanex 0.6.1 is installed in a side venv (`YANEX_BASELINE_BIN`, default
/work/.yanex-orig/bin/yanex), its `yanex run empty.py` is timed in the same run.
Figures are wall-clock medians; the machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
EMPTY = "import yanex\nyanex.log_metrics({'a': 1})\n"
MANY = (
    "import time, yanex\n"
    "start = time.perf_counter()\n"
    "for i in range(10_000):\n"
    "    yanex.log_metrics({'loss': 1.0 / (i + 1), 'step_time': 0.01})\n"
    "print(f'{time.perf_counter() - start:.3f}')\n"
)


def timed(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    """Median wall time of `runs` runs of `command` (after one warm-up)."""
    samples = []
    for index in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
        if index:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(label: str, seconds: float, target: float | None = None, note: str = "") -> None:
    verdict = ""
    if target is not None:
        verdict = f"target <= {target:g} s  {'ok' if seconds <= target else 'MISSED'}"
    print(f"{label:<44} {seconds:7.3f} s   {verdict} {note}".rstrip())


def import_time(runs: int) -> tuple[float, float]:
    values = []
    for _ in range(runs * 3):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import yanex"],
            capture_output=True,
            text=True,
            check=True,
        )
        values.append(int(result.stderr.strip().splitlines()[-1].split("|")[1]) / 1e6)
    return min(values), statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--baseline", default=os.environ.get("YANEX_BASELINE_BIN", "/work/.yanex-orig/bin/yanex")
    )
    parser.add_argument("--skip-list", action="store_true", help="skip the 2k/10k list stores")
    args = parser.parse_args()
    yanex = shutil.which("yanex") or "yanex"
    work = Path(tempfile.mkdtemp(prefix="yanex-bench-run-"))
    (work / "empty.py").write_text(EMPTY)
    (work / "many.py").write_text(MANY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YANEX_")}
    env["YANEX_EXPERIMENTS_DIR"] = str(work / "store")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; median of {args.runs}")

    python = timed([sys.executable, "empty.py"], env, work, args.runs)
    tracked = timed([yanex, "run", "empty.py"], env, work, args.runs)
    report("python empty.py", python)
    report("yanex run empty.py", tracked, 0.30, f"({tracked / python:.2f}x plain python)")
    baseline = Path(args.baseline)
    if baseline.exists():
        env_orig = {**env, "YANEX_EXPERIMENTS_DIR": str(work / "store-orig")}
        original = timed([str(baseline), "run", "empty.py"], env_orig, work, args.runs)
        report(
            "original yanex 0.6.1: yanex run empty.py",
            original,
            None,
            f"({original / python:.2f}x plain python; ours is {original / tracked:.1f}x faster)",
        )
    else:
        print(f"original yanex not installed at {baseline}: no baseline figure")

    low, middle = import_time(args.runs)
    report("import yanex (-X importtime, min)", low, 0.030, f"(median {middle * 1000:.0f} ms)")

    result = subprocess.run(
        [yanex, "run", "many.py"], env=env, cwd=work, capture_output=True, text=True, check=True
    )
    report(
        "10,000 log_metrics calls in one run", float(result.stdout.strip().splitlines()[-1]), 1.0
    )
    report("yanex --version", timed([yanex, "--version"], env, work, args.runs), 0.2)

    if not args.skip_list:
        for count, target in ((2000, 0.5), (10000, 1.0)):
            store = work / f"list-{count}"
            subprocess.run(
                [sys.executable, str(HERE / "make_store.py"), str(store), "--count", str(count)],
                check=True,
                capture_output=True,
            )
            list_env = {**env, "YANEX_EXPERIMENTS_DIR": str(store)}
            subprocess.run([yanex, "list"], env=list_env, check=True, capture_output=True)
            report(
                f"yanex list, {count:,} experiments",
                timed([yanex, "list"], list_env, work, args.runs),
                target,
            )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

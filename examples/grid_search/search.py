"""A grid search from Python: every (lr, l2) pair as its own experiment, then the best.

    python examples/grid_search/search.py                 # 2 at a time
    python examples/grid_search/search.py --parallel 0    # one per CPU

The same grid from the shell (one experiment per member, same store):
    yanex run examples/grid_search/train.py -p "lr=list(0.05, 0.2, 0.8)" -p "l2=list(0, 0.01)" -j 2
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import yanex

TRAIN = Path(__file__).with_name("train.py")
LEARNING_RATES = [0.05, 0.2, 0.8]
L2 = [0.0, 0.01]


def main() -> int:
    import yanex.results as yr

    parser = argparse.ArgumentParser(description="grid search over lr and l2 with yanex")
    parser.add_argument("--parallel", type=int, default=2, help="0 = one per CPU")
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()

    specs = [
        yanex.ExperimentSpec(
            script_path=TRAIN,
            config={"lr": lr, "l2": l2, "epochs": args.epochs},
            name=f"grid-lr={lr}-l2={l2}",
            tags=["grid-search"],
        )
        for lr, l2 in itertools.product(LEARNING_RATES, L2)
    ]
    results = yanex.run_multiple(specs, parallel=args.parallel)
    for result in results:
        print(f"{result.name}: {result.status} ({result.experiment_id})")
    completed = [r.experiment_id for r in results if r.status == "completed"]
    best = yr.get_best("val_accuracy", ids=completed) if completed else None
    if best is None:
        print("no run completed", file=sys.stderr)
        return 1
    print(
        f"best: {best.name} ({best.id}) lr={best.param('lr')} l2={best.param('l2')} "
        f"val_accuracy={best.metric('val_accuracy'):.4f}"
    )
    return 0 if len(completed) == len(specs) else 1


if __name__ == "__main__":
    sys.exit(main())

"""K-fold cross-validation with one script that is both orchestrator and executor.

    python examples/kfold/train.py                     # 5 folds, 2 at a time
    python examples/kfold/train.py --folds 3 --parallel 0 --lr 0.3

Run with plain python, the script has no `_fold_idx` parameter: it is the orchestrator.
It makes one `yanex.ExperimentSpec` per fold that points back at this file with
`_fold_idx` set, runs them with `yanex.run_multiple`, then reads every fold's logged
metrics back from the store (`yanex.results`) and prints their mean.

Each fold runs as a tracked experiment (`yanex.get_param("_fold_idx")` is set): it
trains a small logistic regression on the other folds and logs its validation accuracy.
Do not start the orchestrator with `yanex run`: experiments cannot start experiments,
and `run_multiple` says so (ExperimentContextError).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

import yanex

Point = tuple[float, float, int]


def make_dataset(size: int = 200, seed: int = 0) -> list[Point]:
    """Two overlapping Gaussian blobs, labelled 0 and 1 (the same data for every fold)."""
    rng = random.Random(seed)
    points = []
    for index in range(size):
        label = index % 2
        centre = 1.0 if label else -1.0
        points.append((rng.gauss(centre, 1.2), rng.gauss(centre, 1.2), label))
    rng.shuffle(points)
    return points


def split(points: list[Point], folds: int, fold: int) -> tuple[list[Point], list[Point]]:
    """Training and validation points of `fold` (every folds-th point is held out)."""
    train = [p for i, p in enumerate(points) if i % folds != fold]
    valid = [p for i, p in enumerate(points) if i % folds == fold]
    return train, valid


def predict(weights: list[float], x: float, y: float) -> float:
    score = weights[0] + weights[1] * x + weights[2] * y
    return 1.0 / (1.0 + math.exp(-score))


def accuracy(weights: list[float], points: list[Point]) -> float:
    hits = sum((predict(weights, x, y) >= 0.5) == bool(label) for x, y, label in points)
    return hits / len(points)


def train_fold(fold: int, folds: int, lr: float, epochs: int) -> None:
    """Executor: train on the other folds, log per-epoch loss and the validation accuracy."""
    train, valid = split(make_dataset(), folds, fold)
    weights = [0.0, 0.0, 0.0]
    for epoch in range(epochs):
        loss = 0.0
        for x, y, label in train:
            p = predict(weights, x, y)
            loss -= math.log(p if label else 1 - p)
            for i, feature in enumerate((1.0, x, y)):
                weights[i] -= lr * (p - label) * feature / len(train)
        yanex.log_metrics({"epoch": epoch, "train_loss": loss / len(train)})
    yanex.log_metrics({"fold": fold, "val_accuracy": accuracy(weights, valid)})
    print(f"fold {fold}: val_accuracy={accuracy(weights, valid):.3f}")


def orchestrate(folds: int, parallel: int | None, lr: float, epochs: int) -> int:
    """Orchestrator: one experiment per fold, then the mean of their validation accuracy."""
    import yanex.results as yr

    specs = [
        yanex.ExperimentSpec(
            script_path=Path(__file__),
            config={"_fold_idx": fold, "folds": folds, "lr": lr, "epochs": epochs},
            name=f"kfold-{fold}",
            tags=["kfold"],
            description=f"fold {fold} of {folds}",
        )
        for fold in range(folds)
    ]
    results = yanex.run_multiple(specs, parallel=parallel)
    scores = []
    for result in results:
        if result.status != "completed":
            print(f"fold {result.name} {result.status}: {result.error_message}", file=sys.stderr)
            continue
        score = yr.get_experiment(result.experiment_id).metric("val_accuracy")
        scores.append(score)
        print(f"{result.name} ({result.experiment_id}): val_accuracy={score:.4f}")
    if scores:
        spread = statistics.pstdev(scores)
        print(
            f"mean val_accuracy over {len(scores)} folds: {statistics.mean(scores):.4f}"
            f" (std {spread:.4f})"
        )
    return 0 if len(scores) == folds else 1


def main() -> int:
    fold = yanex.get_param("_fold_idx", None)
    if fold is not None:  # executor: started by run_multiple with the fold to train
        train_fold(
            int(fold),
            yanex.get_param("folds", 5),
            yanex.get_param("lr", 0.5),
            yanex.get_param("epochs", 20),
        )
        return 0
    parser = argparse.ArgumentParser(description="k-fold cross-validation with yanex")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=2, help="0 = one per CPU")
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    return orchestrate(args.folds, args.parallel, args.lr, args.epochs)


if __name__ == "__main__":
    sys.exit(main())

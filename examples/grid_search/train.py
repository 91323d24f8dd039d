"""One training run of the grid: a small logistic regression with `lr` and `l2`.

python examples/grid_search/train.py                      # standalone, defaults
yanex run examples/grid_search/train.py -p lr=0.2 -p l2=0.01
yanex run examples/grid_search/train.py -p "lr=list(0.05, 0.2, 0.8)" -p "l2=list(0, 0.01)" -j 2
"""

from __future__ import annotations

import math
import random

import yanex

lr = yanex.get_param("lr", 0.2)
l2 = yanex.get_param("l2", 0.0)
epochs = yanex.get_param("epochs", 15)

rng = random.Random(0)
points = [
    (rng.gauss(c, 1.3), rng.gauss(c, 1.3), label)
    for label, c in [(i % 2, 1.0 if i % 2 else -1.0) for i in range(240)]
]
train, valid = points[:180], points[180:]


def predict(w: list[float], x: float, y: float) -> float:
    return 1.0 / (1.0 + math.exp(-(w[0] + w[1] * x + w[2] * y)))


weights = [0.0, 0.0, 0.0]
for epoch in range(epochs):
    loss = 0.0
    for x, y, label in train:
        p = predict(weights, x, y)
        loss -= math.log(max(p if label else 1 - p, 1e-12))
        for i, feature in enumerate((1.0, x, y)):
            weights[i] -= lr * ((p - label) * feature / len(train) + l2 * weights[i])
    yanex.log_metrics({"epoch": epoch, "train_loss": round(loss / len(train), 6)})

hits = sum((predict(weights, x, y) >= 0.5) == bool(label) for x, y, label in valid)
yanex.log_metrics({"val_accuracy": hits / len(valid)})
print(f"lr={lr} l2={l2}: val_accuracy={hits / len(valid):.4f}")

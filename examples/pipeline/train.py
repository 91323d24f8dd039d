"""Stage 2: fit y = w * x on the prepared data by gradient descent, with one learning rate."""

import yanex

yanex.assert_dependency("prepare.py", slot="data")
rows = yanex.load_artifact("dataset.json")  # found in the `data` dependency
lr = yanex.get_param("lr", 0.1)
w = 0.0
for step in range(50):
    gradient = sum(2 * (w * x - y) * x for x, y in rows) / len(rows)
    w -= lr * gradient
    loss = sum((w * x - y) ** 2 for x, y in rows) / len(rows)
    yanex.log_metrics({"loss": loss, "w": w}, step=step)
yanex.save_artifact({"w": w}, "model.json")
print(f"lr={lr}: w={w:.4f} loss={loss:.5f}")

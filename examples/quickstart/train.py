"""A tiny training loop: run it plainly (`python train.py`) or tracked (`yanex run train.py`)."""

import argparse
import math

import yanex

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()

lr = yanex.get_param("lr", 0.05)
hidden = yanex.get_param("model.hidden", 16)

loss = 1.0
for epoch in range(args.epochs):
    loss *= math.exp(-lr * hidden / 8)
    accuracy = 1 - loss / 2
    yanex.log_metrics({"epoch": epoch, "loss": round(loss, 5), "accuracy": round(accuracy, 5)})
    print(f"epoch {epoch}: loss={loss:.4f} accuracy={accuracy:.4f}")

yanex.save_artifact({"lr": lr, "hidden": hidden, "final_loss": loss}, "summary.json")
print("experiment:", yanex.get_experiment_id() or "standalone (not tracked)")

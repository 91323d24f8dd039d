"""Stage 3: average the weights of every trained model this experiment depends on."""

import yanex

models = [d for d in yanex.get_dependencies() if d.script_path and d.script_path.name == "train.py"]
weights = [model.load_artifact("model.json")["w"] for model in models]
average = sum(weights) / len(weights) if weights else float("nan")
yanex.log_metrics({"models": len(weights), "w": average})
print(f"ensemble of {len(weights)} models: w={average:.4f}")

"""Stage 1: make a (tiny, synthetic) dataset and save it as an artifact."""

import random

import yanex

rng = random.Random(yanex.get_param("seed", 0))
rows = [(x, 2.0 * x + rng.gauss(0, 0.1)) for x in (i / 50 for i in range(100))]
yanex.save_artifact(rows, "dataset.json")
yanex.log_metrics({"rows": len(rows)})
print(f"prepared {len(rows)} rows")

"""Run the whole pipeline: prepare -> three trainings (a learning-rate sweep) -> ensemble.

    python examples/pipeline/pipeline.py                 # on this machine, 2 at a time
    python examples/pipeline/pipeline.py --queue default # on yanex-workers

Dependencies between specs of one `run_multiple` call are the spec objects themselves;
yanex runs them in dependency order (and on a queue, RQ holds each job until its
dependencies finished). If a stage fails, what depends on it is cancelled.
"""

import argparse
import sys
from pathlib import Path

import yanex

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser()
parser.add_argument("--queue", help="run on yanex-workers listening on this queue")
parser.add_argument("--lrs", default="0.5,0.1,0.02", help="learning rates to train with")
args = parser.parse_args()

prepare = yanex.ExperimentSpec(script_path=HERE / "prepare.py", name="pipeline-prepare")
trainings = [
    yanex.ExperimentSpec(
        script_path=HERE / "train.py",
        config={"lr": float(lr)},
        dependencies={"data": prepare},
        name=f"pipeline-train-lr={lr}",
        tags=["pipeline"],
    )
    for lr in args.lrs.split(",")
]
ensemble = yanex.ExperimentSpec(
    script_path=HERE / "ensemble.py", dependencies=trainings, name="pipeline-ensemble"
)

results = yanex.run_multiple([prepare, *trainings, ensemble], parallel=2, queue=args.queue)
for result in results:
    print(f"{result.experiment_id} {result.name}: {result.status}", result.error_message or "")
sys.exit(0 if all(r.status == "completed" for r in results) else 1)

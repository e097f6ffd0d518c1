"""`servebench bench`: each target under load one at a time, warm-up discarded, K windows,
everything measured written to results/<run-id>/ as it comes in.

run.py holds the measurement loop, knee.py the knee search, limits.py the in-process limits,
results.py the results' header, judgement and context, plan.py what was asked for."""

from servebench.bench.plan import BenchPlan
from servebench.bench.run import run_bench

__all__ = ["BenchPlan", "run_bench"]

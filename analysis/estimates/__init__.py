"""The estimates: what the results say about lr/bs, each with its 95% CI.

series.py (the data each fit sees, tasks pooled into categories) → gp.py, task_gp.py (a Gaussian process per
task) → optimum.py (the optimum's CI rule) → curves.py (score vs lr/bs, per task, category and all tasks),
contrasts.py (category against category), surfaces.py (score over lr × bs, the optimal lr per batch size),
batch_laws.py, regret.py, invariants.py (with wls.py); frontier.py (where trials diverged); intervals.py
(an estimate and its CI, open where it reaches the range measured).
"""

"""The study designer behind `sweeper plan`: the smallest follow-up predicted to settle a question.

planner.py plans (how many trials, where, why); question.py, ratio_question.py and batch_law_question.py say what a
follow-up settles; fantasy.py scores a plan on posterior draws; study.py holds what the study tried and what a
trial costs.
"""

from analysis.design.planner import BATCH_LAW, OPTIMA, Plan, plan_followup
from analysis.design.study import PlannedTrial

__all__ = ["BATCH_LAW", "OPTIMA", "Plan", "PlannedTrial", "plan_followup"]

"""The study designer behind `sweeper plan`: the smallest next sweep predicted to settle what the user asks, its
trials where the answer is uncertain, per second of training.

The question (question.py) is every category's optimal lr/bs and each pair's difference, every category's optimum
alone, one category's optimum, or the optimal learning rate at each batch size (the batch-size laws); its answer now
is the analysis' own. Where that answer is uncertain is inside its unsettled CIs: the points a follow-up
may train there (a new ratio at the batch size where it trains cheapest, or another seed of a trained point), each as
wanted as the CIs it lies in. n trials go to them in proportion to that / sqrt(seconds) (Neyman's allocation: a point's
share per unit of its cost's square root), rounded by largest remainders, ties to new ratios (one tells where the curve
turns over, which no seed of a tried ratio can). The plan lists its trials in the order a sweep runs them: one seed of
every point before a second, points in more unsettled CIs first, and equally wanted ones farthest-first in ratio, so
a sweep that runs them a few at a time learns about every CI from its first trials. A follow-up cannot adapt to its
own results; narrowing in on what they show is the next `sweeper plan`'s job, so a study is settled in rounds that
zoom in.

How many: the smallest n whose plan settles the question in at least SETTLED_SHARE of CHECK_FANTASIES fantasy
studies (fantasy.py: the study and the plan scored on posterior draws, analysed exactly as the real study will
be), found by doubling n and then halving the gap; the fantasies' median widths are the predicted widths. A
target the plan of MAX_PLANNED trials cannot settle, or that is out of reach even at that size extrapolating the
widths as 1/sqrt(n), is out of a follow-up's reach. Within a budget the user set, the plan is that n, or nothing
and why when n exceeds the budget or no n settles the question. Without one, it is a step when one is worth a
round: the smallest size checked that narrows the question at least half as much as any size checked (`_step`),
among sizes up to n when it is at most STEP_SHARE of n, or up to MAX_PLANNED when no n settles it. The next
round zooms in where the step left the CIs; fantasies drawn from a pilot's wide posterior ask for more trials than
rounds that adapt spend. Where no size is predicted to narrow the question at all, yet the spans of its CIs now
(an open one's too: no trial can widen its range, or it would be extended), shrunk as 1/sqrt(trials) over
MAX_PLANNED more, would reach the target, a wide posterior is all the fantasies show: the plan is a probe of FIRST
trials by posterior sampling, each where one posterior draw of an unsettled curve peaks (`Question.sampled`). It
goes where the optimum may be, a pile of draws at the edge of an open CI included, and narrows the posterior the
fantasies are drawn from.

Where an optimum's CI is open and no curve of the study can close it, the follow-up looks there first and the next
`sweeper plan` plans on what it shows: a few trials past the grid's edge when the CI and the posterior both reach
it, or between the last ratio that trained and the divergence frontier when the CI is open there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.design.batch_law_question import BatchLawQuestion
from analysis.design.question import Outcome, Question, Wanted
from analysis.design.ratio_question import RatioQuestion
from analysis.design.study import Candidate, PlannedTrial, Study
from analysis.errors import AnalysisInputError
from analysis.schema import BASELINE_STATUS

BATCH_LAW = "batch_law"
OPTIMA = "optima"
SETTLED_SHARE = 0.5
"""A plan is predicted to settle the question when this share of its fantasy studies settles each quantity (so the
median predicted width of each is within the target)."""
CHECK_FANTASIES = 7
"""Fantasy studies per check; odd, so a quantity settled in at least half of them has its median width within the
target."""
FIRST = 4
"""The smallest plan checked, and the size of a probe."""
MAX_PLANNED = 160
"""A target that needs more trials than this is out of a follow-up's reach."""
STEP_GAIN = 0.1
"""A step must be predicted to narrow the worst shortfall by at least this share (or by half of what is left, when
less is left); a smaller gain is noise in the fantasies."""
STEP_SHARE = 0.5
"""Without a budget, a step replaces a plan that settles the question only when it spends at most this share of its
trials: a smaller saving is not worth another round."""
RESOLUTION = 8
"""The search for n stops when the gap between a failing and a settling n is at most 1/RESOLUTION of it."""


class Checked(NamedTuple):
    """A plan of some size checked on fantasy studies: its trials and, per quantity, what the fantasies showed."""

    trials: list[PlannedTrial]
    outcome: dict[str, Outcome]


@dataclass(frozen=True)
class Plan:
    """The follow-up; no trials when nothing is worth running, and `message` says why."""

    trials: tuple[PlannedTrial, ...]
    widths_now: dict[str, float]
    """Width of each quantity's 95% CI in decades of lr/bs (of lr at one batch size, for the batch-size laws);
    inf where the CI is open (it reaches the range measured, so it bounds nothing there)."""
    widths_after: dict[str, float]
    """The same predicted after the follow-up (median over fantasy studies); NaN where nothing can predict it (the
    grid is extended past an edge)."""
    message: str


def plan_followup(
    table: pd.DataFrame,
    *,
    batch_sizes: Sequence[int],
    seconds_per_trial: Callable[[int], float],
    target_ci: float,
    max_trials: int | None = None,
    max_seconds: float | None = None,
    focus: str | None = None,
) -> Plan:
    """The smallest follow-up predicted to bring every quantity of the question within `target_ci` decades, inside
    the budget (`max_trials`, `max_seconds` of trial time); no trials when the target is met or out of reach.

    `focus`: None (every category's optimum and their differences), "optima" (every category's optimum, not their
    differences), a category's name, or "batch_law". Trials use
    `batch_sizes` and learning rates inside the study's (past an edge only where an optimum's CI reaches it), never
    a ratio the study saw diverge; each (lr, bs, seed) is new.
    """
    question = _question(table, focus, target_ci)
    widths_now = {name: answer.width for name, answer in question.now.items()}
    if not question.unsettled():
        message = f"target met: every quantity is settled within {target_ci:g} decades (widest: {_widest(widths_now)})."
        return Plan((), widths_now, widths_now, message)
    if unfitted := question.unfitted():
        return Plan((), widths_now, widths_now, f"cannot plan: no curve is fitted for {', '.join(unfitted)}.")
    study = Study(table, batch_sizes, seconds_per_trial)
    if extension := question.extension(study):
        return _within_budget(_extension(study, extension, widths_now), max_trials, max_seconds)
    if not (wanted := question.wanted(study)):
        message = (
            "cannot plan: no trial the study may run (its batch sizes and learning rates) lies inside an unsettled CI."
        )
        return Plan((), widths_now, widths_now, message)
    checked, settling = _smallest(question, study, wanted)
    budgeted = max_trials is not None or max_seconds is not None
    if settling is None:
        return _beyond_reach(question, checked, widths_now, target_ci, budgeted, study)
    return _within_budget(
        _settling(question, checked, settling, widths_now, target_ci, budgeted), max_trials, max_seconds
    )


def _settling(
    question: Question,
    checked: dict[int, Checked],
    settling: int,
    widths_now: dict[str, float],
    target_ci: float,
    budgeted: bool,
) -> Plan:
    """The plan of `settling` trials, predicted to settle the question; without a budget, a step instead when one of
    at most STEP_SHARE of its trials is predicted to narrow the question at least half as much (`_step`)."""
    smaller = {n: one for n, one in checked.items() if n <= settling}
    if not budgeted and (step := _step(question, smaller)) is not None and step <= settling * STEP_SHARE:
        why = f"{settling} trials would settle every quantity within {target_ci:g} decades in one follow-up"
        return _stepped(checked[step], widths_now, why)
    trials = checked[settling].trials
    widths_after = _medians(checked[settling].outcome)
    seconds = sum(trial.seconds for trial in trials)
    message = (
        f"{len(trials)} trials ({seconds:,.0f} s) are predicted to settle every quantity within {target_ci:g} decades "
        f"(widest now: {_widest(widths_now)}; after: {_widest(widths_after)})."
    )
    return Plan(tuple(trials), widths_now, widths_after, message)


def _beyond_reach(
    question: Question,
    checked: dict[int, Checked],
    widths_now: dict[str, float],
    target_ci: float,
    budgeted: bool,
    study: Study,
) -> Plan:
    """No follow-up of up to MAX_PLANNED trials settles the question: within a budget the user set, nothing and why;
    without one, a step toward the target when one is predicted to narrow it (`_step`), else a probe of FIRST trials
    by posterior sampling (`Question.sampled`) when the study could still narrow it (`_within_sampling_reach`)."""
    if not budgeted and (step := _step(question, checked)) is not None:
        why = f"the target of {target_ci:g} decades is beyond one follow-up ({MAX_PLANNED} trials)"
        return _stepped(checked[step], widths_now, why)
    if (
        not budgeted
        and _within_sampling_reach(question, len(study.taken))
        and (probe := question.sampled(study, FIRST, np.random.default_rng(question.seed)))
    ):
        why = (
            f"no follow-up of up to {MAX_PLANNED} trials is predicted to narrow the question, yet its widths now, "
            f"shrunk as 1/sqrt(trials), would reach {target_ci:g} decades (the fantasies come from a posterior too "
            "wide to foresee it)"
        )
        checked_probe = Checked(probe, question.check(probe, CHECK_FANTASIES))
        return _stepped(checked_probe, widths_now, why, what="a probe where posterior draws peak")
    largest = max(checked)
    widths_after = _medians(checked[largest].outcome)
    who = "the budget" if budgeted else "a follow-up"
    message = (
        f"{who} cannot reach the target of {target_ci:g} decades: it would need more than {MAX_PLANNED} trials "
        f"(with {largest}, {_widest(widths_after)} is predicted)"
        + ("." if budgeted else f", and none is predicted to narrow it by {STEP_GAIN:.0%} or half of what is left.")
    )
    return Plan((), widths_now, widths_after, message)


def _within_sampling_reach(question: Question, trials_now: int) -> bool:
    """Whether every unsettled quantity's span now (an open CI's too: no follow-up can open the range further, or
    it would be extended), shrunk as 1/sqrt(trials) from the study's `trials_now` to MAX_PLANNED more, is within the
    width that settles it. Fantasies are drawn from the study's posterior; where it is wide they foresee wide CIs
    at every size (open ones where its draws peak at the divergence frontier), while a few trials narrow the
    posterior itself."""
    shrink = np.sqrt(trials_now / (trials_now + MAX_PLANNED))
    return all(question.now[name].span * shrink <= question.limits[name] for name in question.unsettled())


def _stepped(step: Checked, widths_now: dict[str, float], why: str, what: str = "a step toward it") -> Plan:
    """A step toward the target (`_step`) or a probe, and `why` it is not the whole way."""
    trials = step.trials
    widths_after = _medians(step.outcome)
    seconds = sum(trial.seconds for trial in trials)
    message = (
        f"{why}: these {len(trials)} trials ({seconds:,.0f} s) are {what} (widest now: "
        f"{_widest(widths_now)}; after: {_widest(widths_after)}); plan again after them, on what they show."
    )
    return Plan(tuple(trials), widths_now, widths_after, message)


def _question(table: pd.DataFrame, focus: str | None, target_width: float) -> Question:
    categories = sorted(table.loc[table["status"] != BASELINE_STATUS, "category"].unique())
    if focus is None:
        return RatioQuestion(table, categories, contrasts=True, target_width=target_width, seed=0)
    if focus == OPTIMA:
        return RatioQuestion(table, categories, contrasts=False, target_width=target_width, seed=0)
    if focus == BATCH_LAW:
        return BatchLawQuestion(table, categories, target_width=target_width, seed=0)
    if focus in categories:
        return RatioQuestion(table, [focus], contrasts=False, target_width=target_width, seed=0)
    raise AnalysisInputError(
        f"focus: expected a category ({', '.join(categories)}), {OPTIMA!r} or {BATCH_LAW!r}, got {focus!r}."
    )


def _smallest(question: Question, study: Study, wanted: list[Wanted]) -> tuple[dict[int, Checked], int | None]:
    """Every allocation of trials over `wanted` checked on fantasy studies (by size: its trials and, per quantity,
    widths and settled flags), doubling the size and then halving the gap; and the smallest that settles the
    question, None when none does."""
    checked: dict[int, Checked] = {}

    def settles(n: int) -> bool:
        trials = _allocated(study, wanted, n)
        checked[n] = Checked(trials, question.check(trials, CHECK_FANTASIES))
        return all(np.mean(outcome.settled) >= SETTLED_SHARE for outcome in checked[n].outcome.values())

    failed, n = 0, FIRST
    while not settles(n):
        failed = n
        if n >= MAX_PLANNED or _hopeless(checked[n].outcome, n, question):
            return checked, None
        n = min(2 * n, MAX_PLANNED)
    while n - failed > max(1, n // RESOLUTION):
        middle = (failed + n) // 2
        if settles(middle):
            n = middle
        else:
            failed = middle
    return checked, n


def _step(question: Question, checked: dict[int, Checked]) -> int | None:
    """A step toward the target: the smallest size checked predicted to narrow the question at least half as much
    as the largest narrowing checked, in decades of the worst shortfall (an unsettled quantity's median width over
    the width that settles it); None when no size is predicted to narrow it by STEP_GAIN, or by half of what is
    left when less is left. Smaller steps zoom in sooner: the next plan puts its trials inside the narrower CIs
    they leave."""
    now = max(question.now[name].width / question.limits[name] for name in question.unsettled())
    shortfalls = {n: _shortfall(question, one.outcome) for n, one in sorted(checked.items())}
    gains = {n: np.log10(now / left) if np.isfinite(left) else -np.inf for n, left in shortfalls.items()}
    best = max(gains.values())
    if not best >= min(np.log10(1 + STEP_GAIN), np.log10(now) / 2):
        return None
    return next(n for n, gain in gains.items() if gain >= best / 2)


def _shortfall(question: Question, after: dict[str, Outcome]) -> float:
    """The largest median width over the width that settles it among the quantities a plan leaves unsettled in
    most of its fantasy studies; 1 when it settles them all."""
    return max(
        [
            np.median(outcome.widths) / question.limits[name]
            for name, outcome in after.items()
            if np.mean(outcome.settled) < SETTLED_SHARE
        ],
        default=1.0,
    )


def _medians(after: dict[str, Outcome]) -> dict[str, float]:
    return {name: float(np.median(outcome.widths)) for name, outcome in after.items()}


def _hopeless(after: dict[str, Outcome], n: int, question: Question) -> bool:
    """Whether an unsettled quantity's median width (a closed one: an open CI says nothing of its width yet), shrunk
    as 1/sqrt(trials) from n to MAX_PLANNED, still misses the target: an interval shrinks no faster."""
    shrink = np.sqrt(n / MAX_PLANNED)
    for name, outcome in after.items():
        width = np.median(outcome.widths)
        if np.mean(outcome.settled) < SETTLED_SHARE and np.isfinite(width) and width * shrink > question.limits[name]:
            return True
    return False


def _allocated(study: Study, wanted: list[Wanted], n: int) -> list[PlannedTrial]:
    """n trials over the wanted points in proportion to how wanted each is / sqrt(seconds), by largest remainders;
    listed in the order `_numbered` runs them, points in more unsettled CIs first and equally wanted ones spread
    (`_spread`)."""
    weight = np.array([one.weight / np.sqrt(one.candidate.seconds) for one in wanted])
    share = n * weight / weight.sum()
    copies = np.floor(share).astype(int)
    copies[np.argsort(copies - share)[: n - copies.sum()]] += 1
    order = []
    for level in sorted({one.weight for one in wanted}, reverse=True):
        group = [index for index, one in enumerate(wanted) if one.weight == level and copies[index]]
        order += [group[at] for at in _spread([wanted[index].candidate.log10_ratio for index in group])]
    return _numbered(study, [(wanted[index].candidate, int(copies[index]), wanted[index].reason) for index in order])


def _spread(ratios: list[float]) -> list[int]:
    """Positions of `ratios` in farthest-first order: the lowest, then each next the farthest (in decades) from those
    before it (the highest, then the middle, ...). Every prefix of the plan then covers the CIs' span rather than one
    end of it, so a sweep that runs the plan a few trials at a time (fewer GPUs than trials) learns about the whole CI
    from its first ones."""
    if not ratios:
        return []
    values = np.array(ratios)
    order = [int(np.argmin(values))]
    distance = np.abs(values - values[order[0]])
    distance[order] = -np.inf
    while len(order) < len(values):
        order.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.abs(values - values[order[-1]]))
        distance[order] = -np.inf
    return order


def _extension(study: Study, extension: list[tuple[Candidate, str, str]], widths_now: dict[str, float]) -> Plan:
    """Trials where an optimum's CI is open and no curve can close it; what they do to its CI is unknown (NaN)."""
    trials = _numbered(study, [(candidate, 1, f"{name} may lie {where}") for candidate, name, where in extension])
    unknown = {name for _, name, _ in extension}
    widths_after = {name: np.nan if name in unknown else width for name, width in widths_now.items()}
    wheres = "; ".join(sorted({f"{name} may lie {where}" for _, name, where in extension}))
    return Plan(
        tuple(trials),
        widths_now,
        widths_after,
        f"{wheres}: {len(trials)} trials look there; plan again after them.",
    )


def _numbered(study: Study, design: list[tuple[Candidate, int, str]]) -> list[PlannedTrial]:
    """The design's trials in passes, one copy of each point per pass in the design's order (a point's second seed
    waits until every point has its first), each with the next seed of its point (the study's trials there, then
    those planned)."""
    trials: list[PlannedTrial] = []
    for copy in range(max((copies for _, copies, _ in design), default=0)):
        for candidate, copies, reason in design:
            if copy < copies:
                seed = study.next_seed(candidate, trials)
                trials.append(
                    PlannedTrial(candidate.learning_rate, candidate.batch_size, seed, reason, candidate.seconds)
                )
    return trials


def _within_budget(plan: Plan, max_trials: int | None, max_seconds: float | None) -> Plan:
    """The plan, or no trials and what it would take when it exceeds the budget."""
    seconds = sum(trial.seconds for trial in plan.trials)
    over = []
    if max_trials is not None and len(plan.trials) > max_trials:
        over.append(f"{max_trials} trials")
    if max_seconds is not None and seconds > max_seconds:
        over.append(f"{max_seconds:,.0f} s")
    if not over:
        return plan
    message = (
        f"the budget cannot reach the target: it would need about {len(plan.trials)} trials / {seconds:,.0f} s "
        f"(budget: {' and '.join(over)})."
    )
    return Plan((), plan.widths_now, plan.widths_after, message)


def _widest(widths: dict[str, float]) -> str:
    name = max(widths, key=lambda key: np.nan_to_num(widths[key], nan=-1.0))
    return f"{name} {widths[name]:.2f} decades"

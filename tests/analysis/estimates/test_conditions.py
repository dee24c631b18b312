"""A study's conditions are found from the results: the condition columns that vary, labelled and ordered (size,
then full before LoRA), the sweep name when none varies, one condition when nothing does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.estimates.conditions import parameter_count, split_conditions
from analysis.load import load_results
from analysis.synthetic import PlantedTask, planted_table

TASKS = {"arc": PlantedTask("reasoning", best_z=-4.0)}


def _sweep(name: str, **condition) -> pd.DataFrame:
    return planted_table(TASKS, [1e-4, 1e-3, 1e-2], [8, 16]).assign(sweep=name, **condition)


def test_the_varying_condition_columns_make_the_conditions_in_the_studys_order() -> None:
    lora = _sweep("b", adapter="lora", lora_rank=16, model_parameters=135_000_000)
    full = _sweep("a", adapter="full", lora_rank=0, model_parameters=135_000_000)
    conditions = split_conditions(load_results(pd.concat([lora, full])))
    assert [one.label for one in conditions] == ["full", "lora r16"]
    assert [one.folder for one in conditions] == ["full", "lora_r16"]
    assert conditions[1].values == {"adapter": "lora", "lora_rank": 16}
    assert all(len(one.table) == len(full) for one in conditions)
    assert conditions[0].parameters == 135_000_000


def test_sizes_are_labelled_by_parameter_count_and_ordered_by_it() -> None:
    big = _sweep("big", model="org/m-1.7B", model_parameters=1_700_000_000)
    small = _sweep("small", model="org/m-135M", model_parameters=135_000_000)
    conditions = split_conditions(load_results(pd.concat([big, small])))
    assert [one.label for one in conditions] == ["135M", "1.7B"]
    assert [one.parameters for one in conditions] == [1.35e8, 1.7e9]


def test_sweeps_that_differ_in_no_condition_column_are_told_apart_by_name_and_one_sweep_is_one_condition() -> None:
    table = load_results(pd.concat([_sweep("first"), _sweep("second")]))
    assert [one.label for one in split_conditions(table)] == ["first", "second"]
    single = split_conditions(load_results(_sweep("only")))
    assert [one.label for one in single] == ["all"] and np.isnan(single[0].parameters)


def test_parameter_counts_read_as_people_write_them() -> None:
    assert [parameter_count(value) for value in (135e6, 1.7e9, 360e6, 7e10)] == ["135M", "1.7B", "360M", "70B"]

"""The contract between a sweep's parts: what the driver, the trials and the analysis agree on.

`spec.py`: the typed sweep spec (loaded once from YAML, validated before Ray starts) and `TrialParams`, one trial's
grid point with its batch split and id. `store.py`: the record of a finished trial (`TrialResult`) and the tidy
results table it lands in (`analysis.schema` is the table's format). `errors.py`: `SweeperError` and its few
subclasses, the errors a user fixes from the message alone. The contract imports nothing heavy and nothing of
`trials` or `sweeper`: both import it.
"""

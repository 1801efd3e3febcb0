"""Golden datasets, the prompt registry, experiments, comparisons and replays: the debugging loop.

Find a failing trace, isolate it in a dataset (``glassbox dataset add NAME --trace ID``), version
the fix as a prompt (``glassbox prompt add``), run the dataset through the app with the
production evaluators (``glassbox experiment run``), and compare the runs before deploying
(``glassbox experiment compare A B --fail-on-regression``). See ``README.md`` in this package.

Everything is stored in ClickHouse (tables from migrations 0009-0011); see
:mod:`glassbox.datasets.backend` for how writes work while the embedded stack runs.
"""

"""Query-plan assertions: the scenario side (spec, datasets, baselines, the ``harness plans`` command).

The judging lives in :mod:`harness.checks.plans`; plan trees, costs and index facts in
:mod:`harness.sqlite.plans`, :mod:`harness.sqlite.cost` and :mod:`harness.sqlite.indexes`.
"""

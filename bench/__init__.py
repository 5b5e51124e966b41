"""Benchmarks of the shop against bare baselines: ``python -m bench [all|s1|s2|s3|s4|memory] [--quick] [--profile]``.

Every scenario prints its figures and the run writes ``var/bench/<timestamp>/`` (results.json, summary.md,
PNG plots, optional py-spy flame graphs). Nothing here passes or fails on timing.
"""

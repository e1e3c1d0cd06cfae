"""Issue 12's benchmarks: `python -m bench` (or `make bench`) runs them all in one go.

The load generator and the fake Slack run in the benchmark's process; each system under
test (baselines A, B and C, and the product) and the internal API run in processes of their
own. `bench.run` says what runs in which order, `bench.report` what the table shows.
"""

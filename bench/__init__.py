"""SIGAP benchmarks: each compares our code against a baseline in the same run, prints ratios.

Run with ``make bench`` (or ``python -m bench [name ...]``). Benchmarks are not tests: they
report speed, they do not assert it.
"""

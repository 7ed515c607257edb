"""Smoke runs of the scripts in benchmarks/: each runs end to end on a small load."""

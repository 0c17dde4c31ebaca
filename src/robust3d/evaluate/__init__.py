"""Evaluation: the per-sample predictions CSV contract and the tidy ``metrics.csv`` computed from it."""

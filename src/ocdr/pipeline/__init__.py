"""Inference: predictors for each stage (numpy in, Python objects out) and the whole pipeline."""

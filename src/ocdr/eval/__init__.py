"""Metrics: the ICDAR 2015 detection protocol and recognition accuracies."""

"""Training: one Lightning-based harness shared by the detector and the recognizer."""

"""Backbones returning multi-scale feature maps."""

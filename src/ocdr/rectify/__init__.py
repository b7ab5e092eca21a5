"""Rectification: text regions (quadrilaterals, polygons) cut out of images as upright crops."""
from ocdr.rectify.rectifier import RectifyConfig, crop_polygon, crop_quad, rectify, rectify_batch, rotate180

__all__ = ["RectifyConfig", "crop_quad", "crop_polygon", "rectify", "rectify_batch", "rotate180"]

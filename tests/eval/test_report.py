"""Training curves from a Lightning CSV and the HTML report (no torch)."""
import numpy as np
from PIL import Image

from ocdr.eval.report import html_table, plot_curves, read_curves, write_html_report


def test_read_curves_skips_empty_cells_and_missing_columns(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,lr-Adam,step,train/loss_step\n,0.001,9,\n0,,9,2.5\n,0.0005,19,\n0,,19,nan\n1,,29,1.5\n")
    curves = read_curves(csv, ["train/loss_step", "lr-Adam", "absent"])
    assert curves == {"train/loss_step": [(9.0, 2.5), (29.0, 1.5)], "lr-Adam": [(9.0, 0.001), (19.0, 0.0005)]}


def test_plot_curves_draws_each_curve_in_its_colour(tmp_path):
    png = plot_curves({"loss": [(0, 3.0), (10, 1.0)], "lr": [(0, 1.0), (10, 1.0)]}, tmp_path / "c.png", "t")
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (320, 640, 3)
    assert (np.abs(img.astype(int) - (31, 119, 180)).sum(axis=2) < 30).sum() > 100  # first curve (blue)
    assert (np.abs(img.astype(int) - (214, 39, 40)).sum(axis=2) < 30).sum() > 100  # second curve (red)
    assert plot_curves({}, tmp_path / "none.png") is None


def test_html_report_escapes_text(tmp_path):
    page = write_html_report(tmp_path / "r.html", "a <b>", [("S", html_table([{"word": "<script>", "x": 0.5}]))])
    text = page.read_text()
    assert "&lt;script&gt;" in text and "<script>" not in text and "0.5000" in text

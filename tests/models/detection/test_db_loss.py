"""The DB loss on hand-built cases whose values can be worked out on paper."""
import math

import pytest
import torch

from ocdr.models.detection.loss import DBLoss, balanced_bce, dice_loss, masked_l1

LN2, LN10 = math.log(2), math.log(10)


def test_ohem_keeps_three_negatives_per_positive():
    """2 positives predicted at 0.5 (BCE ln2 each); 8 negatives: four at 0.9 (BCE ln10), four at 0.5
    (ln2). OHEM keeps 3 x 2 = 6 negatives, the hardest: the four at 0.9 and two at 0.5.
    Loss = (2 ln2 + 4 ln10 + 2 ln2) / (2 + 6)."""
    pred = torch.tensor([0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5])
    gt = torch.tensor([1.0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    expected = (4 * LN2 + 4 * LN10) / 8
    assert float(balanced_bce(pred, gt, torch.ones(10))) == pytest.approx(expected, rel=1e-4)


def test_ohem_takes_every_negative_when_there_are_fewer_than_three_per_positive():
    """2 positives at 0.5, 3 negatives at 0.9: k = min(3, 6) = 3. Loss = (2 ln2 + 3 ln10) / 5."""
    pred = torch.tensor([0.5, 0.5, 0.9, 0.9, 0.9])
    gt = torch.tensor([1.0, 1, 0, 0, 0])
    assert float(balanced_bce(pred, gt, torch.ones(5))) == pytest.approx((2 * LN2 + 3 * LN10) / 5, rel=1e-4)


def test_masked_pixels_are_neither_positive_nor_negative():
    """The masked positive (pred 0.1, BCE ln10) and masked negative (pred 0.9) are ignored: one
    positive at 0.5 and the single unmasked negative at 0.5 remain. Loss = (ln2 + ln2) / 2."""
    pred = torch.tensor([0.5, 0.1, 0.5, 0.9])
    gt = torch.tensor([1.0, 1, 0, 0])
    mask = torch.tensor([1.0, 0, 1, 0])
    assert float(balanced_bce(pred, gt, mask)) == pytest.approx(LN2, rel=1e-4)


def test_no_positive_gives_zero_bce_but_a_connected_graph():
    """The reference's convention: with no positives, k = 0 negatives, so nothing is learnt; the
    value is 0 and backward still runs."""
    pred = torch.full((4,), 0.9, requires_grad=True)
    loss = balanced_bce(pred, torch.zeros(4), torch.ones(4))
    loss.backward()
    assert loss.item() == 0 and pred.grad is not None


def test_dice_perfect_disjoint_and_masked():
    gt = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    ones = torch.ones(2, 2)
    assert float(dice_loss(gt, gt, ones)) == pytest.approx(0, abs=1e-5)
    assert float(dice_loss(1 - gt, gt, ones)) == pytest.approx(1, abs=1e-5)
    # half of a wrong prediction is masked out: P = {(0,0), (0,1)} ∩ mask, G = {(0,1), (1,0)}:
    # |P.G| = 1, |P| = 1 (the (0,0) pixel is masked), |G| = 2 -> 1 - 2/3
    pred = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    mask = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    assert float(dice_loss(pred, gt, mask)) == pytest.approx(1 / 3, abs=1e-5)


def test_l1_averages_only_inside_the_mask():
    """Errors 1, 2, 3, 4; the mask keeps the first two: mean 1.5. An empty mask gives 0."""
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert float(masked_l1(pred, torch.zeros(4), torch.tensor([1.0, 1, 0, 0]))) == pytest.approx(1.5, abs=1e-5)
    assert float(masked_l1(pred, torch.zeros(4), torch.zeros(4))) == 0


def _one_pixel_batch(prob, thresh, binary, shrink, thresh_gt):
    out = {k: torch.tensor([[[[v]]]]) for k, v in (("prob", prob), ("thresh", thresh), ("binary", binary))}
    targets = {"shrink_map": torch.tensor([[[shrink]]]), "shrink_mask": torch.ones(1, 1, 1),
               "threshold_map": torch.tensor([[[thresh_gt]]]), "threshold_mask": torch.ones(1, 1, 1)}
    return out, targets


def test_total_is_dice_plus_5_bce_plus_10_l1():
    """One positive pixel: prob 0.5 -> BCE ln2; binary 0.5 -> dice 1 - 2*0.5/1.5 = 1/3;
    thresh 0.3 vs 0.5 -> L1 0.2. Total = 1/3 + 5 ln2 + 10 * 0.2."""
    out, targets = _one_pixel_batch(0.5, 0.3, 0.5, 1.0, 0.5)
    losses = DBLoss()(out, targets)
    assert float(losses["loss_prob"]) == pytest.approx(LN2, rel=1e-4)
    assert float(losses["loss_binary"]) == pytest.approx(1 / 3, rel=1e-4)
    assert float(losses["loss_thresh"]) == pytest.approx(0.2, rel=1e-4)
    assert float(losses["loss"]) == pytest.approx(1 / 3 + 5 * LN2 + 2.0, rel=1e-4)


def test_a_perfect_prediction_costs_almost_nothing():
    out, targets = _one_pixel_batch(1.0, 0.5, 1.0, 1.0, 0.5)
    losses = DBLoss()(out, targets)
    assert float(losses["loss"]) < 1e-4


def test_targets_with_a_channel_axis_are_refused():
    """(B, 1, H, W) targets would broadcast into a (B, B, H, W) loss without this check."""
    out, targets = _one_pixel_batch(0.5, 0.3, 0.5, 1.0, 0.5)
    targets["shrink_map"] = targets["shrink_map"][:, None]
    with pytest.raises(ValueError, match="'shrink_map' has shape"):
        DBLoss()(out, targets)
    del targets["threshold_mask"]
    with pytest.raises(ValueError, match="lack threshold_mask"):
        DBLoss()(out, targets)


def test_loss_is_float32_under_autocast():
    """binary_cross_entropy is refused under CUDA autocast; the loss turns autocast off and
    computes in float32 whatever the outputs' dtype."""
    out, targets = _one_pixel_batch(0.5, 0.3, 0.5, 1.0, 0.5)
    out = {k: v.to(torch.bfloat16) for k, v in out.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = DBLoss()(out, targets)["loss"]
    assert loss.dtype == torch.float32
    assert float(loss) == pytest.approx(1 / 3 + 5 * LN2 + 2.0, rel=1e-2)

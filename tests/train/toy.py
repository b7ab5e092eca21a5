"""A toy regression task for harness tests: y = 0.5 * sum(x) - 0.2 learned by a single linear layer."""
import torch
from torch import nn

from ocdr.train.harness import TrainTask
from ocdr.config.train import OptimSpec


class ToyModel(nn.Module):
    def __init__(self, features: int = 4):
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))  # non-float state must survive EMA

    def forward(self, images, targets=None):
        preds = self.linear(images).squeeze(-1)
        out = {"preds": preds}
        if targets is not None:
            out["loss"] = ((preds - targets) ** 2).mean()
            out["loss_mse"] = out["loss"]
        return out


def toy_data(n: int = 64, features: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    y = 0.5 * x.sum(-1) - 0.2
    return [{"images": x[i], "targets": y[i]} for i in range(n)]


def toy_task(lr: float = 0.05, charset=None) -> TrainTask:
    task = TrainTask(ToyModel(), "toy", {"features": 4}, OptimSpec(lr=lr, lr_scheduler="none"),
                     {"note": "toy spec"}, charset)
    task.kind = "toy"
    return task

"""A small PyTorch Inception-style model with a planted wide branch, for tests/test_diagnose.py: a stem,
one module of three branches (1x1, 3x3, max-pool + 1x1; each conv + BatchNorm + ReLU) concatenated, a
1x1 conv, global pooling and a linear head. ``train_and_plant`` trains it briefly on the shipped
Fashion-MNIST sample, then scales branch ``a``'s BatchNorm output up WIDE times and the next conv's
weights for those channels down as much: the float function is unchanged, int8 starves the other
branches of the concatenation's one scale.

    edge-inception convert tests/_planted_torch.py:build --framework torch --weights w.pt --input-shape 1,28,28
"""

from __future__ import annotations

import torch
from torch import nn

WIDE = 300.0


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int):
        super().__init__(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Mix(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.a = ConvBN(cin, 8, 1)
        self.b = ConvBN(cin, 8, 3)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.p = ConvBN(cin, 4, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), self.p(self.pool(x))], dim=1)


class Planted(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBN(1, 8, 3)
        self.mix = Mix(8)
        self.head = nn.Conv2d(20, 8, 1)
        self.logits = nn.Linear(8, 10)

    def forward(self, x):
        x = self.head(self.mix(self.stem(x)))
        return self.logits(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build() -> nn.Module:
    return Planted()


def train_and_plant(path) -> None:
    """Train on the shipped sample, plant the wide branch, save the state dict to ``path``."""
    import numpy as np

    from edge_inception.data.readers import read_sample

    torch.manual_seed(0)
    x, y = read_sample("calibration")
    x = torch.from_numpy(x[:, None].astype(np.float32) / 255)
    y = torch.from_numpy(y.astype(np.int64))
    model = Planted()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(4):
        for i in range(0, len(x), 32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i : i + 32]), y[i : i + 32]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        bn = model.mix.a[1]
        bn.weight *= WIDE
        bn.bias *= WIDE
        model.head.weight[:, :8] /= WIDE
    torch.save(model.state_dict(), path)

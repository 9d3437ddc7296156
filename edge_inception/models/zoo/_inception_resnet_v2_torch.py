"""Inception-ResNet v2 in plain PyTorch, with timm's ``inception_resnet_v2`` module and parameter names.

    from edge_inception.models.zoo._inception_resnet_v2_torch import InceptionResnetV2
    model = InceptionResnetV2(num_classes=1000).eval()   # 55,843,464 parameters, as timm's
    model.load_state_dict(torch.load("inception_resnet_v2.pth"))   # a timm checkpoint, strictly

Stem (conv2d_1a..conv2d_4a, two max-pools), mixed_5b, ten Block35 (scale 0.17) in ``repeat``,
mixed_6a, twenty Block17 (0.10) in ``repeat_1``, mixed_7a, nine Block8 (0.20) in ``repeat_2``, a last
Block8 without ReLU (scale 1.0) as ``block8``, conv2d_7b, global average pool and ``classif``. Kept
without timm or torchvision so the zoo needs neither; the names are what makes timm's checkpoints load.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm (eps 1e-3, TF's) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride: int = 1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


def _chain(*convs) -> nn.Sequential:
    return nn.Sequential(*[BasicConv2d(*c[:3], **(c[3] if len(c) > 3 else {})) for c in convs])


def _same(k) -> dict:
    kh, kw = (k, k) if isinstance(k, int) else k
    return {"padding": (kh // 2, kw // 2)}


class Mixed_5b(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, 1)
        self.branch1 = _chain((192, 48, 1), (48, 64, 5, _same(5)))
        self.branch2 = _chain((192, 64, 1), (64, 96, 3, _same(3)), (96, 96, 3, _same(3)))
        self.branch3 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                     BasicConv2d(192, 64, 1))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class _Residual(nn.Module):
    """Branches concatenated, a biased 1x1 ``conv2d`` back to the input width, scaled, added, ReLU."""

    def forward(self, x):
        out = torch.cat([getattr(self, f"branch{i}")(x) for i in range(self.branches)], 1)
        out = self.conv2d(out) * self.scale + x
        return out if self.relu is None else self.relu(out)


class Block35(_Residual):
    branches = 3

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(320, 32, 1)
        self.branch1 = _chain((320, 32, 1), (32, 32, 3, _same(3)))
        self.branch2 = _chain((320, 32, 1), (32, 48, 3, _same(3)), (48, 64, 3, _same(3)))
        self.conv2d = nn.Conv2d(128, 320, 1)
        self.relu = nn.ReLU()


class Mixed_6a(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = BasicConv2d(320, 384, 3, stride=2)
        self.branch1 = _chain((320, 256, 1), (256, 256, 3, _same(3)), (256, 384, 3, {"stride": 2}))
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Block17(_Residual):
    branches = 2

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(1088, 192, 1)
        self.branch1 = _chain((1088, 128, 1), (128, 160, (1, 7), _same((1, 7))), (160, 192, (7, 1), _same((7, 1))))
        self.conv2d = nn.Conv2d(384, 1088, 1)
        self.relu = nn.ReLU()


class Mixed_7a(nn.Module):
    def __init__(self):
        super().__init__()
        self.branch0 = _chain((1088, 256, 1), (256, 384, 3, {"stride": 2}))
        self.branch1 = _chain((1088, 256, 1), (256, 288, 3, {"stride": 2}))
        self.branch2 = _chain((1088, 256, 1), (256, 288, 3, _same(3)), (288, 320, 3, {"stride": 2}))
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block8(_Residual):
    branches = 2

    def __init__(self, scale: float = 1.0, no_relu: bool = False):
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(2080, 192, 1)
        self.branch1 = _chain((2080, 192, 1), (192, 224, (1, 3), _same((1, 3))), (224, 256, (3, 1), _same((3, 1))))
        self.conv2d = nn.Conv2d(448, 2080, 1)
        self.relu = None if no_relu else nn.ReLU()


class InceptionResnetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, in_chans: int = 3):
        super().__init__()
        self.num_classes, self.num_features = num_classes, 1536
        self.conv2d_1a = BasicConv2d(in_chans, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed_5b()
        self.repeat = nn.Sequential(*[Block35(scale=0.17) for _ in range(10)])
        self.mixed_6a = Mixed_6a()
        self.repeat_1 = nn.Sequential(*[Block17(scale=0.10) for _ in range(20)])
        self.mixed_7a = Mixed_7a()
        self.repeat_2 = nn.Sequential(*[Block8(scale=0.20) for _ in range(9)])
        self.block8 = Block8(no_relu=True)
        self.conv2d_7b = BasicConv2d(2080, self.num_features, 1)
        self.global_pool = nn.AdaptiveAvgPool2d(1)  # timm's SelectAdaptivePool2d('avg'): no parameters
        self.classif = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x):
        for name in ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "maxpool_5a",
                     "mixed_5b", "repeat", "mixed_6a", "repeat_1", "mixed_7a", "repeat_2", "block8", "conv2d_7b"):
            x = getattr(self, name)(x)
        return x

    def forward(self, x):
        return self.classif(torch.flatten(self.global_pool(self.forward_features(x)), 1))

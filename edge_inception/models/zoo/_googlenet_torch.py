"""GoogLeNet (Inception v1) in plain PyTorch, with torchvision's module and parameter names (no torchvision).

    from edge_inception.models.zoo._googlenet_torch import GoogLeNet
    model = GoogLeNet().eval()      # model(x) -> (N, 1000) logits for x: (N, 3, 224, 224)
    model.load_state_dict(torch.load("googlenet-1378be20.pth", weights_only=True))  # strict

torchvision's checkpoint carries both auxiliary heads (aux1, aux2); it loads strictly with or without
them. Like torchvision (and unlike the paper), the "5x5" branch uses a 3x3 kernel: its weights were
trained that way (pytorch/vision#906), so a compatible model must keep it. Imported lazily by
``googlenet.py``: the zoo's registry scan skips '_' modules.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU: torchvision uses the same block for both ports of Google's weights.
from edge_inception.models.zoo._inception_v3_torch import BasicConv2d

# module name -> (in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool proj), Table 1 of arXiv 1409.4842
MODULES = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNetOutputs(NamedTuple):
    logits: Tensor
    aux_logits2: Tensor | None
    aux_logits1: Tensor | None


class Inception(nn.Module):
    """1x1 | 1x1->3x3 | 1x1->3x3 (the paper's 5x5) | 3x3 max-pool->1x1, concatenated on channels."""

    def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, r3, kernel_size=1), BasicConv2d(r3, c3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, r5, kernel_size=1), BasicConv2d(r5, c5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on a 14x14 grid (after 4a and 4d); a training-time regularizer only."""

    def __init__(self, cin: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


class GoogLeNet(nn.Module):
    """GoogLeNet for N x 3 x 224 x 224 input. Returns the logits tensor in eval mode or without
    ``aux_logits``; ``GoogLeNetOutputs(logits, aux2, aux1)`` (torchvision's order) when training with them.
    Unlike torchvision, ``aux_logits`` defaults to False: the heads only matter in training."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, transform_input: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception3a", "inception3b"):
            self.add_module(name, Inception(*MODULES[name]))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            self.add_module(name, Inception(*MODULES[name]))
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name in ("inception5a", "inception5b"):
            self.add_module(name, Inception(*MODULES[name]))
        # Registered even when absent (None, the state torchvision's pretrained builder leaves them in), so
        # torchvision's checkpoint, which carries aux1 and aux2, still loads strictly without the heads.
        self.aux1: nn.Module | None
        self.aux2: nn.Module | None
        self.register_module("aux1", InceptionAux(512, num_classes, dropout_aux) if aux_logits else None)
        self.register_module("aux2", InceptionAux(528, num_classes, dropout_aux) if aux_logits else None)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

    def _transform(self, x: Tensor) -> Tensor:
        # ImageNet mean/std-normalized input -> the [-1, 1] range Google's weights were trained on. Off by
        # default: the zoo's ModelSpec already feeds [-1, 1] ("inception" preprocessing).
        mean = torch.tensor([0.485, 0.456, 0.406], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = self._transform(x)
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        train_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if train_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if train_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        # A plain tensor in eval keeps export (ONNX, PT2E, litert-torch) to one output.
        return GoogLeNetOutputs(logits, aux2, aux1) if train_aux else logits

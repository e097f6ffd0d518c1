"""An example of your own model for `servebench export --model-file`: a small CNN with
BatchNorm, pooling and a residual connection, for 32x32 RGB images (CIFAR-10's shape).

What servebench needs of such a file: it imports (torch, and whatever the TorchServe worker also
has), it defines the model as a torch.nn.Module subclass, and the class builds without arguments.
"""

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.stem(x)))
        x = torch.relu(self.bn2(self.conv(x)) + x)  # the residual connection
        x = self.pool(x)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

"""An MNIST-sized convolutional classifier: a 1x28x28 image -> 10 class scores.

conv 5x5 stride 2 (2 channels) -> ReLU -> conv 3x3 stride 2 (4 channels) -> ReLU -> linear 144 -> 10.
Weights are seeded, not trained (no data set can be downloaded here); the circuit and the proof
are the same size as for trained weights.
"""

import torch
from torch import nn

INPUT_SHAPE = (1, 1, 28, 28)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 2, kernel_size=5, stride=2),
            nn.ReLU(),
            nn.Conv2d(2, 4, kernel_size=3, stride=2),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(4 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def sample_inputs(generator: torch.Generator, count: int) -> torch.Tensor:
    """Grey-level images in [0, 1], like normalised MNIST pixels."""
    return torch.rand((count, *INPUT_SHAPE[1:]), generator=generator)

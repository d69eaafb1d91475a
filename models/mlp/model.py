"""A small multilayer perceptron: 8 features -> 16 hidden (ReLU) -> 4 scores.

The smallest example model; proving it takes a few seconds on two cores.
"""

import torch
from torch import nn

INPUT_SHAPE = (1, 8)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def sample_inputs(generator: torch.Generator, count: int) -> torch.Tensor:
    """Feature vectors in [-1, 1], the range the model is calibrated for."""
    return torch.rand((count, *INPUT_SHAPE[1:]), generator=generator) * 2 - 1

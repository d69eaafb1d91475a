"""Logistic regression: 6 features -> probability, through a sigmoid.

The sigmoid is a non-linear lookup in the circuit (EZKL proves it with a lookup table).
"""

import torch
from torch import nn

INPUT_SHAPE = (1, 6)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))


def sample_inputs(generator: torch.Generator, count: int) -> torch.Tensor:
    """Feature vectors in [-1, 1], the range the model is calibrated for."""
    return torch.rand((count, *INPUT_SHAPE[1:]), generator=generator) * 2 - 1

"""A bag-of-tokens classifier: 8 token ids (vocabulary of 32) -> embedding (dim 4) -> mean -> 3 scores.

The example of a model with integer inputs: the token ids are int64, committed and proved as the
integers themselves (EZKL gives integer inputs scale 0).
"""

import torch
from torch import nn

VOCAB = 32
INPUT_SHAPE = (1, 8)


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 4)
        self.head = nn.Linear(4, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens).mean(dim=1))


def sample_inputs(generator: torch.Generator, count: int) -> torch.Tensor:
    """Token ids drawn uniformly from the vocabulary."""
    return torch.randint(0, VOCAB, (count, *INPUT_SHAPE[1:]), generator=generator)

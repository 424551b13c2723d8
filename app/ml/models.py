"""The tiny model that the lesson trains, crashes and resumes."""

from __future__ import annotations

from torch import Tensor, nn


class TinyMLP(nn.Module):
    """2 -> hidden -> hidden -> classes with ReLU.

    The Dropout is there on purpose: it draws from torch's global RNG during training,
    so forgetting to restore that RNG state changes a resumed run.
    """

    def __init__(self, hidden: int = 64, classes: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, classes)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.fc1(x))
        x = self.drop(self.act(self.fc2(x)))
        return self.out(x)

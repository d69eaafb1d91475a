"""The provider's worker: watch, claim, prove, submit; journaled so a crash never loses or repeats work."""

from .journal import Journal, Step
from .worker import Worker

__all__ = ["Journal", "Step", "Worker"]

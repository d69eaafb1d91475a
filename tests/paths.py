"""Paths the tests share."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"

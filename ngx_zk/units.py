"""NGX amounts: 18 decimals, printed exactly (``12.5 NGX``, never ``1.25e+01``)."""

from __future__ import annotations

from decimal import Decimal

WEI = 10**18
"""Base units per NGX."""


def fmt_ngx(amount: int) -> str:
    """``amount`` base units as an exact decimal number of NGX: ``fmt_ngx(10**26) == "100000000 NGX"``."""
    text = f"{Decimal(amount) / WEI:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} NGX"

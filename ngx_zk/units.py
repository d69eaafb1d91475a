"""NGX amounts: 18 decimals, parsed in one place and printed exactly (``12.5 NGX``, never ``1.25e+01``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from .errors import InputError

WEI = 10**18
"""Base units per NGX."""

MAX_UINT256 = 2**256 - 1


def fmt_ngx(amount: int) -> str:
    """``amount`` base units as an exact decimal number of NGX: ``fmt_ngx(10**26) == "100000000 NGX"``."""
    text = f"{Decimal(amount) / WEI:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} NGX"


def parse_ngx(amount: str | Decimal, *, positive: bool = False) -> int:
    """An NGX amount (``"12.5"``, ``"1e3"``, a ``Decimal``) as base units, exactly or not at all.

    Refused, never rounded: not a number, NaN or infinite, negative, zero when ``positive``, finer than
    one base unit (``"1e-30"`` would silently become 0), or beyond a uint256."""
    text = str(amount).strip()
    try:
        if not text.isascii():  # Decimal reads any script's digits ("٣" is 3): an amount is typed in ASCII
            raise InvalidOperation
        value = Decimal(text)
    except InvalidOperation:
        raise InputError(f"{text!r} is not a number of NGX", "write an amount such as 10 or 2.5") from None
    if not value.is_finite():
        raise InputError(f"{text!r} is not a number of NGX", "write an amount such as 10 or 2.5")
    if value < 0 or (positive and value == 0):
        raise InputError(f"{text!r} must be {'above 0' if positive else '0 or more'} NGX")
    wei = value * WEI
    if wei != wei.to_integral_value():
        raise InputError(f"{text!r} NGX is finer than the token's 18 decimals", "round it to at most 18 decimals")
    if wei > MAX_UINT256:
        raise InputError(f"{text!r} NGX is more than the chain can count", "write a smaller amount")
    return int(wei)

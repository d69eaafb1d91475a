"""A gasless consumer's standing permit and order nonces, kept on this machine under a file lock.

The market runs an order's EIP-2612 permit only when the consumer's allowance is short of the order's price, and a
permit SETS the allowance (it does not add). So several unfilled orders of one consumer (two ``prove-job --gasless``
at once) share one *standing* permit at the token's current permit nonce whose value covers all of them: whichever
fills first runs it, the others find the allowance enough. The rules :meth:`OrderBook.reserve` keeps, for an order of
price ``p`` while ``u`` is owed to unfilled orders and ``A`` is the allowance now (token permit nonce ``N``):

1. the standing permit is at nonce ``N``, lives past the order and its value covers ``u + p``: the order carries it;
2. else, the allowance already covers ``u + p``: the order carries no permit;
3. else, when no unfilled order carries a permit at ``N``, a new standing permit is signed at ``N`` for
   ``max(A, u) + p`` (or ``allowance``, when larger: fewer signatures later);
4. else (an unfilled order carries a smaller permit at ``N`` that may run first and set the allowance below what the
   new order needs) the order waits until that permit ran (``N`` moved) or its orders ended, then tries again.

An unfilled order is one whose nonce the market has not used and whose deadline has not passed on chain (a provider
that refused it still holds its signature, so it counts until then). Order nonces come from a counter in the same
file, skipping any the market reports used: consecutive nonces share the market's nonce word (256 per storage slot),
and two processes of one consumer never pick the same one. The races left are written in docs/security.md (gasless
orders).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..chain.orders import Permit
from ..config import Settings
from ..errors import ChainError
from ..files import write_private
from ..units import fmt_ngx

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from ..chain.signer import Signer

PERMIT_TTL_S = 3_600
"""A standing permit lives this long (chain time): orders signed within it reuse it while its value covers them."""
WAIT_POLL_S = 0.5
WAIT_MARGIN_S = 30.0
"""Wall-clock slack past the latest conflicting order's deadline before giving up (a slow chain clock)."""


@dataclass
class Unfilled:
    """An order this consumer signed that may still fill: its nonce, its price, its deadline (chain time) and the token
    permit nonce of the permit it carries (None: it carries none)."""

    nonce: int
    price: int
    deadline: int
    permit_nonce: int | None


@dataclass
class Book:
    """What the state file holds for one consumer on one market."""

    next_nonce: int = 0
    permit: dict[str, Any] | None = None
    """The standing permit: value, deadline, v, r, s (hex) and its token nonce."""
    unfilled: list[Unfilled] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Book:
        data = json.loads(text)
        return cls(int(data["next_nonce"]), data.get("permit"), [Unfilled(**u) for u in data.get("unfilled", [])])

    def standing(self) -> tuple[Permit, int] | None:
        p = self.permit
        if p is None:
            return None
        permit = Permit(int(p["value"]), int(p["deadline"]), int(p["v"]), bytes.fromhex(p["r"]), bytes.fromhex(p["s"]))
        return permit, int(p["token_nonce"])

    def keep(self, permit: Permit, token_nonce: int) -> None:
        self.permit = {
            "value": str(permit.value), "deadline": permit.deadline, "v": permit.v,
            "r": permit.r.hex(), "s": permit.s.hex(), "token_nonce": token_nonce,
        }  # fmt: skip


@dataclass(frozen=True)
class Reservation:
    """What a new order carries: its nonce and its permit (``Permit.none()``: the allowance pays)."""

    nonce: int
    permit: Permit
    signed_at: int
    deadline: int
    """The order's time and deadline (chain time), read under the lock."""
    signed_permit: bool
    """Whether a new standing permit was signed for it (else reused, or none)."""


class StandingError(ChainError):
    """A gasless order that cannot get a permit that will pay for it (see :mod:`.standing`)."""


class OrderBook:
    """One consumer's gasless-order state on one market: ``reserve`` a nonce and a permit for a new order."""

    def __init__(self, settings: Settings, market: Marketplace, signer: Signer) -> None:
        self.market, self.signer = market, signer
        name = f"{market.market.address.lower()}-{signer.address.lower()}.json"
        self.path = settings.state_dir / "orders" / str(market.chain.chain_id) / name

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Book]:
        """The book, read and written back under an exclusive lock (threads and processes of this consumer)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                book = self._read()
                yield book
                write_private(self.path, json.dumps(asdict(book)).encode())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self) -> Book:
        """The book on disk (a new one if none); one clear error if it is not one this ngx-zk wrote."""
        if not self.path.is_file():
            return Book()
        try:
            return Book.parse(self.path.read_text())
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise StandingError(
                f"{self.path} is not a gasless order book ({type(exc).__name__}: {exc})",
                "move it away: the next order signs a new permit and skips the nonces the market reports used",
            ) from None

    def reserve(
        self, price: int, ttl_s: int, *, allowance: int | None = None, progress: Callable[[str], None] = lambda _: None
    ) -> Reservation:
        """A nonce and a permit for an order of ``price`` that dies ``ttl_s`` seconds (chain time) from now; ``allowance``:
        sign a new standing permit for at least this much. Waits (rule 4) while an unfilled order's smaller permit at the
        current token nonce could run first; raises :class:`StandingError` if that outlasts those orders."""
        waited_since: float | None = None
        while True:
            with self._locked() as book:
                got = self._try(book, price, ttl_s, allowance)
            if isinstance(got, Reservation):
                return got
            if waited_since is None:
                waited_since = time.monotonic()
                progress(
                    f"waiting for your unfilled order(s) {', '.join(map(str, got.nonces))}: their permit "
                    f"({fmt_ngx(got.value)}) may run first and would not cover this order too "
                    "(give the first order --allowance covering all of them to place them at once)"
                )
            if time.monotonic() - waited_since > got.wait_s + WAIT_MARGIN_S:
                raise StandingError(
                    f"your unfilled gasless order(s) {', '.join(map(str, got.nonces))} still hold a permit of "
                    f"{fmt_ngx(got.value)} that does not cover this order too",
                    "wait for them to fill or expire, then order again (or pass --allowance covering all your orders)",
                )
            time.sleep(WAIT_POLL_S)

    def _try(self, book: Book, price: int, ttl_s: int, floor: int | None) -> Reservation | _Wait:
        market, me = self.market, self.signer.address
        now = market.chain.timestamp()
        deadline = now + ttl_s
        book.unfilled = [u for u in book.unfilled if u.deadline > now and not market.order_nonce_used(me, u.nonce)]
        token_nonce, allowance = market.permit_nonce(me), market.allowance(me)
        owed = sum(u.price for u in book.unfilled)
        need = owed + price
        if owed and market.balance(me) < need:
            raise StandingError(
                f"{me} holds {fmt_ngx(market.balance(me))}: your unfilled gasless orders owe {fmt_ngx(owed)} and this one "
                f"costs {fmt_ngx(price)}",
                "fund the account, or wait for those orders to fill or expire",
            )
        standing = book.standing()
        signed = False
        if standing and standing[1] == token_nonce and standing[0].deadline >= deadline and standing[0].value >= need:
            permit: Permit | None = standing[0]  # rule 1
        elif allowance >= need:
            permit = None  # rule 2
        else:
            rivals = [u for u in book.unfilled if u.permit_nonce == token_nonce]
            if rivals:  # rule 4
                value = standing[0].value if standing and standing[1] == token_nonce else 0
                return _Wait([u.nonce for u in rivals], value, max(u.deadline for u in rivals) - now)
            value = max(max(allowance, owed) + price, floor or 0)  # rule 3
            permit = market.sign_permit(self.signer, value, max(deadline, now + PERMIT_TTL_S), token_nonce)
            book.keep(permit, token_nonce)
            signed = True
        nonce = book.next_nonce
        while market.order_nonce_used(me, nonce):  # used elsewhere (another machine, an older ngx-zk): skip it
            nonce += 1
        book.next_nonce = nonce + 1
        book.unfilled.append(Unfilled(nonce, price, deadline, token_nonce if permit else None))
        return Reservation(nonce, permit or Permit.none(), now, deadline, signed)


@dataclass(frozen=True)
class _Wait:
    nonces: list[int]
    value: int
    wait_s: float

"""What the detector says: :class:`Flag` per flagged actor (role, kinds, score, evidence lines) and the
:class:`Report` over all of them, as JSON (the explorer's ``/api/v1/anomalies``, ``reputation --anomalies
--json``) and as text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import NgxZkError


class AnomalyError(NgxZkError):
    """Anomaly flags could not be read: an unreachable explorer, an answer that is not a report, no index."""

    code = "anomaly"


@dataclass(frozen=True)
class Flag:
    """One flagged actor."""

    address: str
    role: str
    """``consumer`` or ``provider`` (an address active in both roles is weighed, and may be flagged, in each)."""
    kinds: tuple[str, ...]
    """The attack kinds its evidence names (:data:`~ngx_zk.anomaly.evidence.KINDS`), the heaviest (primary) first."""
    score: float
    """The isolation forest's anomaly score among its role's actors (higher: more unusual; 0 when too few actors)."""
    outlier: bool
    evidence: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "role": self.role,
            "kinds": list(self.kinds),
            "score": round(self.score, 4),
            "outlier": self.outlier,
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_json(cls, raw: Any) -> Flag:
        try:
            return cls(
                str(raw["address"]).lower(),
                str(raw["role"]),
                tuple(str(k) for k in raw["kinds"]),
                float(raw["score"]),
                bool(raw["outlier"]),
                tuple(str(e) for e in raw["evidence"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnomalyError(
                f"an anomaly flag is malformed ({exc!r})", "point --anomalies-from at an ngx-zk explorer"
            ) from None


@dataclass
class Report:
    """Every flag, and how many actors of each role were weighed."""

    flags: list[Flag] = field(default_factory=list)
    weighed: dict[str, int] = field(default_factory=dict)

    def flagged(self, address: str, role: str) -> Flag | None:
        """The flag on ``address`` in ``role``, if it has one."""
        address = address.lower()
        return next((f for f in self.flags if f.address == address and f.role == role), None)

    def to_json(self) -> dict[str, Any]:
        return {"weighed": dict(self.weighed), "flags": [f.to_json() for f in self.flags]}

    @classmethod
    def from_json(cls, raw: Any) -> Report:
        if not isinstance(raw, dict) or not isinstance(raw.get("flags"), list) or not isinstance(raw.get("weighed"), dict):
            raise AnomalyError("the answer is not an anomaly report", "point --anomalies-from at an ngx-zk explorer")
        return cls([Flag.from_json(f) for f in raw["flags"]], {str(k): int(v) for k, v in raw["weighed"].items()})

    def text(self) -> str:
        counts = ", ".join(f"{n} {role}s" for role, n in sorted(self.weighed.items()))
        if not self.flags:
            return f"no anomalies among {counts or 'no actors'}"
        lines = [f"{len(self.flags)} flagged among {counts} (evidence, not proof):"]
        for f in self.flags:
            lines.append(f"{f.address}  {f.role}  {', '.join(f.kinds)}  score {f.score:.2f}")
            lines += [f"    - {e}" for e in f.evidence]
        return "\n".join(lines)


def reason(flag: Flag) -> str:
    """The one line a worker or consumer logs when it avoids ``flag``'s actor."""
    return f"{flag.role} {flag.address} is flagged ({', '.join(flag.kinds)}): {flag.evidence[0]}"


__all__ = ["AnomalyError", "Flag", "Report", "reason"]

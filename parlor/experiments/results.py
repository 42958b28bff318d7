"""How each variant of an experiment did, aggregated in SQL over the run records (one per turn: outcome,
trigger, time to first token, tokens, cost) and the feedback on the answers those runs produced.

Percentiles: PostgreSQL's `percentile_cont`; elsewhere (SQLite has none) the same linear interpolation
between the two nearest ranks, written with window functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db.models import Feedback, RunRecord

Z95 = 1.959963984540054
PERCENTILES = (0.5, 0.95)


@dataclass(frozen=True, slots=True)
class VariantResult:
    variant: str
    users: int = 0
    turns: int = 0
    rated: int = 0  # answers with a thumbs up or down
    thumbs_up: int = 0
    thumbs_up_rate: float | None = None
    thumbs_up_ci95: tuple[float, float] | None = None  # Wilson score interval
    stop_rate: float | None = None  # turns stopped by the user (stored as aborted)
    regenerate_rate: float | None = None  # turns that were a regeneration of the previous answer
    error_rate: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    tokens_in_per_turn: float | None = None
    tokens_out_per_turn: float | None = None
    cost_per_turn_usd: float | None = None

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["thumbs_up_ci95"] = list(self.thumbs_up_ci95) if self.thumbs_up_ci95 else None
        return body


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (sound for small samples and rates near 0 or 1)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time, or a span back from now: `90s`, `15m`, `6h`, `7d` (ValueError otherwise)."""
    if value is None:
        return None
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if value[:-1].isdigit() and value[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ExperimentResults:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def variants(self, experiment: str, configured: Sequence[str] = (), since: datetime | None = None,
                       native_percentiles: bool | None = None) -> list[VariantResult]:
        """One result per variant: the configured ones first (zeros when unseen), then any others recorded."""
        where = [RunRecord.experiment == experiment]
        if since is not None:
            where.append(RunRecord.created_at >= since)
        async with self._sessions() as session:
            native = (session.get_bind().dialect.name == "postgresql" if native_percentiles is None
                      else native_percentiles)
            turns = {row[0]: row for row in (await session.execute(_turns(where))).all()}
            ratings = {row[0]: row for row in (await session.execute(_ratings(where))).all()}
            ttft = {row[0]: row for row in (await session.execute(
                _native_percentiles(where) if native else _portable_percentiles(where))).all()}
        names = [*configured, *sorted(set(turns) - set(configured))]
        return [_result(name, turns.get(name), ratings.get(name), ttft.get(name)) for name in names]


def _turns(where: list[Any]) -> Any:
    r = RunRecord
    return select(r.variant, func.count(distinct(r.user_id)), func.count(), _count(r.status == "aborted"),
                  _count(r.trigger == "regenerate"), _count(r.status == "error"), func.avg(r.tokens_in),
                  func.avg(r.tokens_out), func.avg(r.cost_usd)).where(*where).group_by(r.variant)


def _ratings(where: list[Any]) -> Any:
    r, f = RunRecord, Feedback
    return (select(r.variant, _count(f.rating == "up"), func.count())
            .select_from(f).join(r, and_(r.request_id == f.request_id, r.user_id == f.user_id))
            .where(*where, f.rating.is_not(None)).group_by(r.variant))


def _native_percentiles(where: list[Any]) -> Any:
    r = RunRecord
    return (select(r.variant, *(func.percentile_cont(p).within_group(r.ttft_ms) for p in PERCENTILES))
            .where(*where, r.ttft_ms.is_not(None)).group_by(r.variant))


def _portable_percentiles(where: list[Any]) -> Any:
    """percentile_cont by hand: rank i (from 0) of n values; p falls at h = (n-1)p, between ranks
    floor(h) and floor(h)+1, weighted by the fraction."""
    r = RunRecord
    ranked = select(r.variant.label("variant"), r.ttft_ms.label("v"),
                    (func.row_number().over(partition_by=r.variant, order_by=r.ttft_ms) - 1).label("i"),
                    func.count().over(partition_by=r.variant).label("n")
                    ).where(*where, r.ttft_ms.is_not(None)).subquery()

    def at(p: float) -> Any:  # in integer per-mille: integer division floors alike on both databases
        h = (ranked.c.n - 1) * round(p * 1000)
        low = h // 1000
        fraction = cast(h - low * 1000, Float) / 1000
        return func.sum(case((ranked.c.i == low, ranked.c.v * (1 - fraction)),
                             (ranked.c.i == low + 1, ranked.c.v * fraction), else_=0))

    return select(ranked.c.variant, *(at(p) for p in PERCENTILES)).group_by(ranked.c.variant)


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _result(name: str, turns: Any, ratings: Any, ttft: Any) -> VariantResult:
    if turns is None:
        return VariantResult(name)
    _, users, count, stopped, regenerated, errors, tokens_in, tokens_out, cost = turns
    up, rated = (int(ratings[1]), int(ratings[2])) if ratings is not None else (0, 0)
    return VariantResult(
        name, int(users), int(count), rated, up, up / rated if rated else None, wilson(up, rated),
        int(stopped) / count, int(regenerated) / count, int(errors) / count,
        _float(ttft[1]) if ttft else None, _float(ttft[2]) if ttft else None,
        _float(tokens_in), _float(tokens_out), _float(cost))


def _float(value: Any) -> float | None:
    return round(float(value), 6) if value is not None else None


COLUMNS = ("variant", "users", "turns", "thumbs up [95% CI]", "stop", "regen", "error", "TTFT p50", "p95",
           "tokens/turn", "cost/turn")


def table(results: Sequence[VariantResult]) -> str:
    """The results as a plain-text table (`parlor experiments report`)."""
    rows = [COLUMNS, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                      strict=True)))
             for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _row(r: VariantResult) -> tuple[str, ...]:
    thumbs = "-"
    if r.thumbs_up_rate is not None and r.thumbs_up_ci95 is not None:
        low, high = r.thumbs_up_ci95
        thumbs = f"{r.thumbs_up_rate:.0%} [{low:.0%}-{high:.0%}] n={r.rated}"
    tokens = "-" if r.tokens_in_per_turn is None else f"{r.tokens_in_per_turn:.0f}+{r.tokens_out_per_turn or 0:.0f}"
    return (r.variant, str(r.users), str(r.turns), thumbs, _pct(r.stop_rate), _pct(r.regenerate_rate),
            _pct(r.error_rate), _ms(r.ttft_p50_ms), _ms(r.ttft_p95_ms), tokens,
            "-" if r.cost_per_turn_usd is None else f"${r.cost_per_turn_usd:.5f}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"

"""Monthly range partitions of ``readings`` on PostgreSQL, and raw-data retention.

``readings`` is partitioned by ``ts_ms`` (epoch milliseconds, UTC months), one
child table per month named ``readings_yYYYYmMM`` plus ``readings_default`` for
rows outside every month created so far. Partitions are created months ahead
(by ``init-db`` and by a scheduled job), rows that landed in the default
partition are moved into their own month, and retention drops whole months:
``DROP TABLE`` of a partition is instant and leaves no dead rows behind, where a
``DELETE`` of millions of rows would not. The 15-minute rollups are a separate,
unpartitioned table and stay.

SQLite keeps its single table: every function here is a no-op there.

DDL cannot take bind parameters, so partition names and bounds are formatted
into the statements; both are built from integers only, never from input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from energy_dash.db.models import APP_CHECKED_ON

logger = logging.getLogger(__name__)

PARENT = "readings"
DEFAULT_PARTITION = "readings_default"
MONTHS_AHEAD = 3
_NAME_RE = re.compile(r"^readings_y(\d{4})m(\d{2})$")
_BOUND_RE = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True)
class Partition:
    """One child table: its name and half-open ``[lo_ms, hi_ms)`` range."""

    name: str
    lo_ms: int | None  # None for the default partition
    hi_ms: int | None


BRIN_INDEX = "ix_readings_ts_brin"


def in_models(name: str | None, type_: str, _parent_names: dict | None = None) -> bool:
    """False for the schema objects partitioning adds beside the models.

    The month and default partitions and the BRIN index exist on PostgreSQL only
    and are managed here, not by the models: Alembic's autogenerate and the
    schema drift check pass this as ``include_name``.
    """
    if type_ == "table" and name is not None:
        return not (_NAME_RE.match(name) or name == DEFAULT_PARTITION)
    if type_ == "index":
        return name != BRIN_INDEX
    return True


def compared_objects(dialect: str):
    """An ``include_object`` filter: a model foreign key that the writers keep on
    ``dialect`` instead of the database (``info[APP_CHECKED_ON]``, see migration
    0009) is not expected in that database's schema."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ != "foreign_key_constraint" or reflected:
            return True
        return not any(fk.info.get(APP_CHECKED_ON) == dialect for fk in obj.elements)

    return include


def month_start(year: int, month: int) -> datetime:
    """First instant of a UTC month, normalising month overflow (13 -> next year)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def month_of(ts_ms: int) -> tuple[int, int]:
    """(year, month) of an epoch-millisecond instant, in UTC."""
    moment = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return moment.year, moment.month


def partition_name(year: int, month: int) -> str:
    return f"readings_y{year:04d}m{month:02d}"


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """``[lo_ms, hi_ms)`` of one UTC month."""
    return _ms(month_start(year, month)), _ms(month_start(year, month + 1))


def is_partitioned(conn: Connection) -> bool:
    """True on PostgreSQL once ``readings`` is a partitioned table."""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c "
            "ON c.oid = p.partrelid WHERE c.relname = :name "
            "AND pg_table_is_visible(c.oid)"
        ),
        {"name": PARENT},
    ).first()
    return found is not None


def list_partitions(conn: Connection) -> list[Partition]:
    """Every child of ``readings`` with its bounds, oldest first (default last)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :name AND pg_table_is_visible(p.oid)"
        ),
        {"name": PARENT},
    ).all()
    out = []
    for name, bound in rows:
        match = _BOUND_RE.search(bound or "")
        if match:
            out.append(Partition(name, int(match.group(1)), int(match.group(2))))
        else:
            out.append(Partition(name, None, None))
    return sorted(out, key=lambda p: (p.lo_ms is None, p.lo_ms or 0))


def _create_month(conn: Connection, year: int, month: int) -> str:
    name = partition_name(year, month)
    lo, hi = month_bounds(year, month)
    conn.execute(
        text(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF {PARENT} '
            f"FOR VALUES FROM ({int(lo)}) TO ({int(hi)})"
        )
    )
    return name


def ensure_partitions(
    conn: Connection, *, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD,
    since_ms: int | None = None,
) -> list[str]:
    """Create the months from ``since_ms`` (default: this month) to ``months_ahead``
    ahead, and move rows out of the default partition into months of their own.

    Returns the names of the partitions created. A no-op unless ``readings`` is
    partitioned (PostgreSQL after migration 0006).
    """
    if not is_partitioned(conn):
        return []
    now = now or datetime.now(UTC)
    existing = {p.name for p in list_partitions(conn)}
    created = adopt_default_rows(conn)
    year, month = (now.year, now.month) if since_ms is None else month_of(since_ms)
    last = month_start(now.year, now.month + months_ahead)
    while month_start(year, month) <= last:
        first = month_start(year, month)
        year, month = first.year, first.month
        if partition_name(year, month) not in existing | set(created):
            created.append(_create_month(conn, year, month))
        month += 1
    if created:
        logger.info("readings partitions created: %s", ", ".join(created))
    return created


def adopt_default_rows(conn: Connection) -> list[str]:
    """Give every month found in the default partition a partition of its own.

    Rows land in the default partition when their month had no partition yet
    (an old CSV import, say). A new month partition cannot be created while the
    default holds rows of that month, so the month is built beside the table,
    filled from the default, and attached once those rows are gone.
    """
    months = conn.execute(
        text(
            "SELECT DISTINCT EXTRACT(YEAR FROM to_timestamp(ts_ms / 1000.0) "
            "AT TIME ZONE 'UTC')::int, EXTRACT(MONTH FROM to_timestamp(ts_ms / 1000.0)"
            f" AT TIME ZONE 'UTC')::int FROM {DEFAULT_PARTITION}"
        )
    ).all()
    created = []
    for year, month in sorted(months):
        name = partition_name(year, month)
        lo, hi = month_bounds(year, month)
        bounds = {"lo": lo, "hi": hi}
        conn.execute(
            text(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS)')
        )
        conn.execute(
            text(
                f'INSERT INTO "{name}" SELECT * FROM {DEFAULT_PARTITION} '
                "WHERE ts_ms >= :lo AND ts_ms < :hi"
            ),
            bounds,
        )
        conn.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts_ms >= :lo AND ts_ms < :hi"),
            bounds,
        )
        conn.execute(
            text(
                f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" '
                f"FOR VALUES FROM ({int(lo)}) TO ({int(hi)})"
            )
        )
        created.append(name)
    return created


def drop_expired(conn: Connection, cutoff_ms: int) -> list[str]:
    """Drop every month partition that ends at or before ``cutoff_ms``.

    Older stragglers in the default partition are deleted row by row (there are
    few: :func:`adopt_default_rows` moves them into months). Returns the names of
    the partitions dropped.
    """
    if not is_partitioned(conn):
        return []
    dropped = []
    for part in list_partitions(conn):
        if part.hi_ms is not None and part.hi_ms <= cutoff_ms:
            if not _NAME_RE.match(part.name):
                continue  # not one of ours: leave it alone
            conn.execute(text(f'DROP TABLE "{part.name}"'))
            dropped.append(part.name)
    conn.execute(
        text(f"DELETE FROM {DEFAULT_PARTITION} WHERE ts_ms < :cutoff"),
        {"cutoff": cutoff_ms},
    )
    if dropped:
        logger.info("raw readings dropped by retention: %s", ", ".join(dropped))
    return dropped

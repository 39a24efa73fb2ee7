"""rate counters; readings beyond physical bounds removed

Revision ID: 0007
Revises: 0002

Shared counters for the sign-in lockout and the ingest limit. Readings that no
facility can produce (energies over 1 GW for two of the longest reporting
intervals, currents over 1 MA, values that are not finite) were stored by older
versions and break sums (PostgreSQL: out of range; SQLite: Inf); they are
deleted and the rollups of their buckets rebuilt from the readings that remain.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BUCKET_MS = 900_000
MAX_ENERGY_KWH = 48_000_000.0
MAX_CURRENT_A = 1_000_000.0
FIELDS = (
    "energy_produced", "energy_consumed", "current_load", "voltage", "current",
    "current1", "current2", "current3", "frequency", "power_factor",
)
BOUNDS = {
    "energy_produced": MAX_ENERGY_KWH, "energy_consumed": MAX_ENERGY_KWH,
    "current_load": 100.0, "voltage": 1000.0, "current": MAX_CURRENT_A,
    "current1": MAX_CURRENT_A, "current2": MAX_CURRENT_A, "current3": MAX_CURRENT_A,
    "frequency": 70.0, "power_factor": 1.0,
}


def upgrade() -> None:
    op.create_table(
        "rate_counters",
        sa.Column("counter_key", sa.String(length=200), nullable=False),
        sa.Column("window_end_ms", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("counter_key"),
    )
    _remove_impossible_readings()


def _impossible() -> str:
    # NaN compares false everywhere and Inf is beyond every bound: both caught by
    # "NOT (abs(x) <= bound)".
    return " OR ".join(
        f"({name} IS NOT NULL AND NOT (abs({name}) <= {bound!r}))"
        for name, bound in BOUNDS.items()
    )


def _remove_impossible_readings() -> None:
    bind = op.get_bind()
    buckets = bind.execute(sa.text(
        f"SELECT DISTINCT facility_id, (ts_ms / {BUCKET_MS}) * {BUCKET_MS} "
        f"FROM readings WHERE {_impossible()}"
    )).all()
    if not buckets:
        return
    bind.execute(sa.text(f"DELETE FROM readings WHERE {_impossible()}"))
    least = "min" if bind.dialect.name == "sqlite" else "least"
    names = ", ".join(f"{f}_sum, {f}_n" for f in FIELDS)
    sums = ", ".join(f"COALESCE(SUM({f}), 0), COUNT({f})" for f in FIELDS)
    for facility_id, bucket in buckets:
        params = {"f": facility_id, "lo": bucket, "hi": bucket + BUCKET_MS}
        bind.execute(sa.text(
            "DELETE FROM reading_rollups WHERE facility_id = :f AND bucket_ms = :lo"
        ), params)
        bind.execute(sa.text(
            f"INSERT INTO reading_rollups (facility_id, bucket_ms, samples, "
            f"self_supplied, {names}) SELECT facility_id, :lo, COUNT(*), "
            f"COALESCE(SUM({least}(energy_produced, energy_consumed)), 0), {sums} "
            f"FROM readings WHERE facility_id = :f AND ts_ms >= :lo AND ts_ms < :hi "
            f"GROUP BY facility_id"
        ), params)


def downgrade() -> None:
    op.drop_table("rate_counters")

"""scale out: forecast slot tasks, one forecast per slot, partitioned readings

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01 21:40:00

- ``forecasts.slot`` with a unique (facility, target, slot): a scheduled refresh
  stores one run per target however often its Celery task is delivered.
- ``forecast_tasks``: the state of every fit of a slot (queued, running, done, ...).
- PostgreSQL only: ``readings`` becomes a table range-partitioned by ``ts_ms``
  (one partition per UTC month). An existing table is converted in place: it is
  renamed, a partitioned ``readings`` with the same columns is created, every row
  is copied over in one ``INSERT … SELECT`` and the old table is dropped. This
  holds an exclusive lock on readings for the copy (roughly 10-20 s per million
  rows here) and needs free disk for a second copy of the table: stop the sensors
  or accept that their requests wait, as for any table rewrite. The primary key
  becomes (id, ts_ms) because a unique constraint on a partitioned table must
  include the partition key; the (facility, device, ts_ms) key already does.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = "readings_unpartitioned"


def upgrade() -> None:
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("slot", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            "uq_forecast_slot", ["facility_id", "target", "slot"]
        )
    op.create_table(
        "forecast_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facility_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("facility_id", "target", "slot", name="uq_forecast_task"),
    )
    op.create_index("ix_forecast_tasks_slot", "forecast_tasks", ["slot"])
    if op.get_bind().dialect.name == "postgresql":
        _partition_readings()


def _partition_readings() -> None:
    """Rebuild ``readings`` as a partitioned table, keeping every row and index."""
    from energy_dash.db.partitions import ensure_partitions

    bind = op.get_bind()
    indexes = bind.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'readings' "
            "AND schemaname = current_schema() "
            "AND indexname NOT IN ('readings_pkey', 'uq_reading')"
        )
    ).all()
    op.execute(f"ALTER TABLE readings RENAME TO {OLD}")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT readings_pkey TO {OLD}_pkey")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT uq_reading TO uq_reading_old")
    for name, _ in indexes:
        op.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_old"')
    # Columns, NOT NULLs and defaults (the id sequence's nextval) as they are now,
    # whatever later revisions added: LIKE copies them.
    op.execute(
        f"CREATE TABLE readings (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        "PARTITION BY RANGE (ts_ms)"
    )
    op.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP DEFAULT")
    op.execute("ALTER SEQUENCE readings_id_seq OWNED BY readings.id")
    op.execute(
        "ALTER TABLE readings ADD CONSTRAINT readings_pkey PRIMARY KEY (id, ts_ms)"
    )
    op.execute(
        "ALTER TABLE readings ADD CONSTRAINT uq_reading "
        "UNIQUE (facility_id, device_id, ts_ms)"
    )
    op.execute(
        "ALTER TABLE readings ADD CONSTRAINT readings_facility_id_fkey FOREIGN KEY "
        "(facility_id) REFERENCES facilities (id) ON DELETE CASCADE"
    )
    for _, definition in indexes:  # "ON public.readings" now names the new table
        op.execute(definition)
    # Rows arrive in time order within a month, so a BRIN index on time is a few
    # pages and serves scans by time across facilities (retention, audits).
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_readings_ts_brin ON readings USING brin (ts_ms)"
    )
    op.execute("CREATE TABLE readings_default PARTITION OF readings DEFAULT")
    # Months from the oldest reading, and at least a year back for backfills.
    first = bind.execute(sa.text(f"SELECT min(ts_ms) FROM {OLD}")).scalar()
    year_ago = int((datetime.now(UTC) - timedelta(days=365)).timestamp() * 1000)
    ensure_partitions(bind, since_ms=min(first or year_ago, year_ago))
    op.execute(f"INSERT INTO readings SELECT * FROM {OLD}")
    op.execute(f"DROP TABLE {OLD}")
    op.execute("ANALYZE readings")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_readings()
    op.drop_index("ix_forecast_tasks_slot", table_name="forecast_tasks")
    op.drop_table("forecast_tasks")
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_forecast_slot", type_="unique")
        batch_op.drop_column("slot")


def _unpartition_readings() -> None:
    op.execute("ALTER TABLE readings RENAME TO readings_partitioned")
    op.execute(
        "CREATE TABLE readings (LIKE readings_partitioned "
        "INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    op.execute("ALTER TABLE readings_partitioned ALTER COLUMN id DROP DEFAULT")
    op.execute("ALTER SEQUENCE readings_id_seq OWNED BY readings.id")
    op.execute("INSERT INTO readings SELECT * FROM readings_partitioned")
    op.execute("DROP TABLE readings_partitioned")
    op.execute("ALTER TABLE readings ADD CONSTRAINT readings_pkey PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE readings ADD CONSTRAINT uq_reading "
        "UNIQUE (facility_id, device_id, ts_ms)"
    )
    op.execute(
        "ALTER TABLE readings ADD CONSTRAINT readings_facility_id_fkey FOREIGN KEY "
        "(facility_id) REFERENCES facilities (id) ON DELETE CASCADE"
    )
    op.execute("CREATE INDEX ix_readings_facility_ts ON readings (facility_id, ts_ms)")

"""PostgreSQL: readings' facility checked once per write, not once per row

Revision ID: 0009
Revises: 0007

A foreign key from ``readings`` (every month partition) to ``facilities`` runs
a referential-integrity trigger per inserted row: a look-up and a row lock of
the facility for each of half a million rows of a year's backfill, which cost
more than the insert itself. On PostgreSQL the key is replaced by:

- writers lock the facility row (``FOR KEY SHARE``, what the key's trigger took
  per row) once per transaction, together with the facility's advisory lock,
  and store nothing when it is gone (``storage.readings.lock_facility``);
- ``facilities_delete_readings``: deleting a facility still deletes its
  readings (the old ``ON DELETE CASCADE``), by one statement per facility.

A delete waits for a writer that holds the row lock and then removes what it
wrote; a writer that comes after a delete finds no facility and stores nothing,
so no reading outlives its facility. SQLite keeps its foreign key (its check is
a cheap B-tree probe there). Dropping the constraint is instant; the downgrade
re-creates it (and validates every row).
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FK = "readings_facility_id_fkey"
FUNCTION = "facilities_delete_readings"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE readings DROP CONSTRAINT IF EXISTS {FK}")
    op.execute(
        f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM readings WHERE facility_id = OLD.id; RETURN OLD; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {FUNCTION} BEFORE DELETE ON facilities "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON facilities")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.execute(
        "DELETE FROM readings WHERE NOT EXISTS (SELECT 1 FROM facilities f "
        "WHERE f.id = readings.facility_id)"
    )
    op.execute(
        f"ALTER TABLE readings ADD CONSTRAINT {FK} FOREIGN KEY (facility_id) "
        "REFERENCES facilities (id) ON DELETE CASCADE"
    )

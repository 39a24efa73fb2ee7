"""tariff versions with a validity date, and a demand charge

Revision ID: 0008
Revises: 0007

A facility keeps several tariff rows, each valid from a local calendar day on
(unique per facility and day), so a price change never reprices the past. The
single row every facility had becomes one version valid from the beginning
(1970-01-01) with no demand charge [money/kW/month].
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BEGINNING = "1970-01-01"
# SQLite reflects the unnamed unique constraint of 0001 under this name
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique() -> str:
    """Name of the unique constraint on ``facility_id`` alone (PostgreSQL named
    it ``tariffs_facility_id_key``; SQLite left it unnamed)."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("tariffs"):
        if constraint["column_names"] == ["facility_id"] and constraint["name"]:
            return constraint["name"]
    return "uq_tariffs_facility_id"


def upgrade() -> None:
    with op.batch_alter_table("tariffs", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("valid_from", sa.Date(), nullable=False,
                                   server_default=BEGINNING))
        batch.add_column(sa.Column("demand_charge", sa.Float(), nullable=False,
                                   server_default="0"))
        batch.drop_constraint(_old_unique(), type_="unique")
        batch.create_unique_constraint("uq_tariff_version",
                                       ["facility_id", "valid_from"])


def downgrade() -> None:
    # one row per facility again: the newest version that has begun (else the
    # earliest), as the single tariff the old code reads
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, facility_id, valid_from FROM tariffs "
        "ORDER BY facility_id, valid_from"
    )).all()
    today = sa.func.current_date()
    today = bind.execute(sa.select(today)).scalar_one()
    keep: dict[int, int] = {}
    for row_id, facility_id, valid_from in rows:
        if facility_id not in keep or str(valid_from) <= str(today):
            keep[facility_id] = row_id
    drop = [r[0] for r in rows if r[0] not in keep.values()]
    if drop:
        bind.execute(
            sa.text("DELETE FROM tariffs WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": drop},
        )
    with op.batch_alter_table("tariffs", naming_convention=NAMING) as batch:
        batch.drop_constraint("uq_tariff_version", type_="unique")
        batch.create_unique_constraint("uq_tariffs_facility_id", ["facility_id"])
        batch.drop_column("demand_charge")
        batch.drop_column("valid_from")

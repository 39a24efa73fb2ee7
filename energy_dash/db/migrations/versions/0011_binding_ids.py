"""binding_ids: one id source for topic and line-protocol bindings

Revision ID: 0011
Revises: 0010

Each binding table numbered its rows on its own, so the first topic binding and
the first line-protocol binding were both 1 and ``unbind 1`` could not tell them
apart. New bindings of either kind now draw their id from ``binding_ids``, which
starts above the largest id of both tables; ids that already overlap keep being
removed as ``topic:N`` or ``influx:N``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "binding_ids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    bind = op.get_bind()
    top = bind.execute(sa.text(
        "SELECT MAX(id) FROM (SELECT id FROM topic_bindings UNION ALL "
        "SELECT id FROM influx_bindings) AS used")).scalar()
    if not top:
        return
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('binding_ids', 'id'), :top)"),
            {"top": int(top)})
    else:  # AUTOINCREMENT remembers the largest id ever inserted
        bind.execute(sa.text("INSERT INTO binding_ids (id) VALUES (:top)"),
                     {"top": int(top)})
        bind.execute(sa.text("DELETE FROM binding_ids"))


def downgrade() -> None:
    op.drop_table("binding_ids")

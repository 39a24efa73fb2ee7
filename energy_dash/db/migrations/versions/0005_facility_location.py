"""facility latitude and longitude (solar forecasts follow the sun there)

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01 22:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("facilities") as batch:
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
    # the demo facility (Berlin) gets its real coordinates
    op.execute(
        sa.text(
            "UPDATE facilities SET latitude = 52.52, longitude = 13.405 "
            "WHERE id = 1 AND name = 'Demo Facility' AND latitude IS NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("facilities") as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")

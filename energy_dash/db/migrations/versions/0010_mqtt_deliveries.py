"""mqtt_deliveries: identities of committed MQTT messages dated at receipt

Revision ID: 0010
Revises: 0009

A message without a time of its own is dated when it arrives; the broker
redelivers one that was committed but not acknowledged (the subscriber killed in
between) with a new time of receipt, so the reading's key cannot tell the copy
apart. The subscriber records each such message's identity in the transaction of
its readings and keeps it for an hour.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mqtt_deliveries",
        sa.Column("identity", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=False, nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("identity"),
    )
    op.create_index("ix_mqtt_deliveries_received", "mqtt_deliveries",
                    ["received_ms"])


def downgrade() -> None:
    op.drop_index("ix_mqtt_deliveries_received", table_name="mqtt_deliveries")
    op.drop_table("mqtt_deliveries")

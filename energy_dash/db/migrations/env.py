"""Alembic environment: runs against the URL the caller configured."""

from alembic import context

from energy_dash.db import get_engine
from energy_dash.db.models import Base

config = context.config


def run_migrations() -> None:
    engine = get_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        context.run_migrations()


run_migrations()

"""Alembic environment: runs against the URL the caller configured."""

from alembic import context

from energy_dash.db import get_engine
from energy_dash.db.models import Base
from energy_dash.db.partitions import compared_objects, in_models

config = context.config


def run_migrations() -> None:
    engine = get_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_name=in_models,  # readings' partitions are not in the models
            include_object=compared_objects(connection.dialect.name),
        )
        context.run_migrations()


run_migrations()

"""Alembic environment: always run from `pipeline.store.migrate` with a live connection."""

from alembic import context

from pipeline.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

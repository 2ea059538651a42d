"""Alembic environment for scoring's own schema."""

from services.scoring.tables import metadata
from shared.migrations import run_env

run_env(metadata, schema="scoring")

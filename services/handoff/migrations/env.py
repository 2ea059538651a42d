"""Alembic environment for handoff's own schema."""

from services.handoff.tables import metadata
from shared.migrations import run_env

run_env(metadata, schema="handoff")

"""ingest_run.deleted_counts: rows a re-import removed (road pieces no longer in the data)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 21:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ingest_run",
        sa.Column(
            "deleted_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("ingest_run", "deleted_counts")

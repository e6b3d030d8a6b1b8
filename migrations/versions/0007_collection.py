"""collection routes: truck depots, disposal sites (TPA), the truck travel mode's costs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00

What this adds
--------------
* ``depot``: where collection trucks start and end their day (*pool armada*); a layer.
* ``disposal_site``: where trucks unload (the TPA); a layer.
* ``road_segment.cost_truck_s``: the truck mode's travel time per segment, written by the
  network build like ``cost_car_s`` (NULL where a truck may not pass).

Both new tables are public map layers: ``sigap_web`` and ``sigap_staff`` may read them, as
they read ``waste_bin``; only the owner (ingest) writes them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "sigap_web"
STAFF = "sigap_staff"
TABLES = ("depot", "disposal_site")


def _point_table(name: str) -> None:
    op.create_geospatial_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name=f"uq_{name}_source"),
    )
    op.create_geospatial_index(
        f"idx_{name}_geom",
        name,
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )


def upgrade() -> None:
    for name in TABLES:
        _point_table(name)
        op.execute(f"GRANT SELECT ON {name} TO {WEB}, {STAFF}")
    op.add_column("road_segment", sa.Column("cost_truck_s", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("road_segment", "cost_truck_s")
    for name in reversed(TABLES):
        op.drop_geospatial_index(
            f"idx_{name}_geom", table_name=name, postgresql_using="gist", column_name="geom"
        )
        op.drop_geospatial_table(name)

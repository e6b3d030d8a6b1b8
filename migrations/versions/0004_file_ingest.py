"""file ingest: attributes jsonb on every layer, imported complaints, road inspection history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:20:00

* ``attributes jsonb`` on ``office``, ``waste_bin``, ``road_segment``, ``admin_area`` and
  ``complaint``: the columns of an input file that have no field of their own, under their
  original names.
* ``complaint.source`` / ``complaint.source_id`` (unique together), so complaints imported from
  a file (an Open311 or 311 export) upsert like every other layer. A complaint made in SIGAP
  gets ``web`` and a random id by default, so existing inserts keep working.
* ``road_inspection``: every inspection record, kept as history. Grants (the rule of 0003:
  each migration grants its own tables): ``sigap_staff`` may read it, ``sigap_web`` nothing
  (the public sees the resulting condition on ``road_segment``).

Self-contained: it depends on nothing after 0003.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTRIBUTE_TABLES = ("office", "waste_bin", "road_segment", "admin_area", "complaint")
STAFF = "sigap_staff"


def upgrade() -> None:
    for table in ATTRIBUTE_TABLES:
        op.add_column(
            table,
            sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        )
    op.add_column(
        "complaint",
        sa.Column("source", sa.String(length=64), server_default="web", nullable=False),
    )
    op.add_column(
        "complaint",
        sa.Column(
            "source_id",
            sa.String(length=128),
            server_default=sa.text("gen_random_uuid()::text"),
            nullable=False,
        ),
    )
    op.create_unique_constraint("uq_complaint_source", "complaint", ["source", "source_id"])
    op.create_geospatial_table(
        "road_inspection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=24), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=True),
        sa.Column("matched", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="GEOMETRY",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
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
        sa.CheckConstraint(
            "condition IN ('baik', 'sedang', 'rusak_ringan', 'rusak_berat', "
            "'tidak_dapat_dilalui', 'unknown')",
            name="ck_road_inspection_condition",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_road_inspection_source"),
    )
    op.create_geospatial_index(
        "idx_road_inspection_geom",
        "road_inspection",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_road_inspection_osm_way_id", "road_inspection", ["osm_way_id"], unique=False
    )
    op.execute(f"GRANT SELECT ON road_inspection TO {STAFF}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON road_inspection FROM {STAFF}")
    op.drop_index("ix_road_inspection_osm_way_id", table_name="road_inspection")
    op.drop_geospatial_index(
        "idx_road_inspection_geom",
        table_name="road_inspection",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("road_inspection")
    op.drop_constraint("uq_complaint_source", "complaint", type_="unique")
    op.drop_column("complaint", "source_id")
    op.drop_column("complaint", "source")
    for table in ATTRIBUTE_TABLES:
        op.drop_column(table, "attributes")

"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 20:16:41.048343
"""

from collections.abc import Sequence

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("admin_level", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
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
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_admin_area_source"),
    )
    op.create_geospatial_index(
        "idx_admin_area_geom",
        "admin_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=24), server_default="open", nullable=False),
        sa.Column("channel", sa.String(length=16), server_default="web", nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "channel IN ('web', 'phone', 'desk', 'api')", name="ck_complaint_channel"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'in_progress', 'closed', 'rejected')",
            name="ck_complaint_status",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_geospatial_index(
        "idx_complaint_geom",
        "complaint",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_complaint_status", "complaint", ["status"], unique=False)
    op.create_table(
        "ingest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "counts", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "new_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "updated_counts",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "rejects", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_table(
        "office",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("services", postgresql.ARRAY(sa.Text()), nullable=True),
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
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_office_source"),
    )
    op.create_geospatial_index(
        "idx_office_geom",
        "office",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_office_category", "office", ["category"], unique=False)
    op.create_geospatial_table(
        "road_segment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("u", sa.BigInteger(), nullable=False),
        sa.Column("v", sa.BigInteger(), nullable=False),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("highway", sa.String(length=32), nullable=False),
        sa.Column("oneway", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("maxspeed", sa.String(length=32), nullable=True),
        sa.Column("surface", sa.String(length=32), nullable=True),
        sa.Column("smoothness", sa.String(length=32), nullable=True),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("condition", sa.String(length=24), server_default="unknown", nullable=False),
        sa.Column("condition_source", sa.String(length=24), server_default="osm", nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cost_walk_s", sa.Float(), nullable=True),
        sa.Column("cost_motorcycle_s", sa.Float(), nullable=True),
        sa.Column("cost_car_s", sa.Float(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
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
        sa.CheckConstraint(
            "condition IN ('baik', 'sedang', 'rusak_ringan', 'rusak_berat', "
            "'tidak_dapat_dilalui', 'unknown')",
            name="ck_road_segment_condition",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_road_segment_source"),
    )
    op.create_geospatial_index(
        "idx_road_segment_geom",
        "road_segment",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_road_segment_u", "road_segment", ["u"], unique=False)
    op.create_index("ix_road_segment_v", "road_segment", ["v"], unique=False)
    op.create_geospatial_table(
        "waste_bin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("capacity_l", sa.Float(), nullable=True),
        sa.Column("fill_level", sa.Float(), nullable=True),
        sa.Column("last_emptied_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint(
            "fill_level IS NULL OR (fill_level >= 0 AND fill_level <= 1)",
            name="ck_waste_bin_fill_level",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="uq_waste_bin_source"),
    )
    op.create_geospatial_index(
        "idx_waste_bin_geom",
        "waste_bin",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_waste_bin_kind", "waste_bin", ["kind"], unique=False)
    op.create_table(
        "complaint_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_complaint_event_complaint_id"), "complaint_event", ["complaint_id"], unique=False
    )
    op.create_table(
        "complaint_reporter",
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("complaint_id"),
    )


def downgrade() -> None:
    # The postgis extension stays: other schemas in the same database may use it.
    op.drop_table("complaint_reporter")
    op.drop_index(op.f("ix_complaint_event_complaint_id"), table_name="complaint_event")
    op.drop_table("complaint_event")
    op.drop_index("ix_waste_bin_kind", table_name="waste_bin")
    op.drop_geospatial_index(
        "idx_waste_bin_geom", table_name="waste_bin", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("waste_bin")
    op.drop_index("ix_road_segment_v", table_name="road_segment")
    op.drop_index("ix_road_segment_u", table_name="road_segment")
    op.drop_geospatial_index(
        "idx_road_segment_geom",
        table_name="road_segment",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("road_segment")
    op.drop_index("ix_office_category", table_name="office")
    op.drop_geospatial_index(
        "idx_office_geom", table_name="office", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("office")
    op.drop_table("ingest_run")
    op.drop_index("ix_complaint_status", table_name="complaint")
    op.drop_geospatial_index(
        "idx_complaint_geom", table_name="complaint", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("complaint")
    op.drop_geospatial_index(
        "idx_admin_area_geom", table_name="admin_area", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("admin_area")

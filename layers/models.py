"""SQLAlchemy / GeoAlchemy2 models of the shared schema.

Every geometry is EPSG:4326 with a GiST index (``spatial_index=True``, GeoAlchemy2's default).
Every row of a data layer carries ``source`` and ``source_id``, unique together, so that a
re-import updates the row instead of duplicating it.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from layers.vocab import COMPLAINT_CHANNELS, COMPLAINT_STATUSES, ROAD_CONDITIONS


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """The declarative base of every model; its metadata drives Alembic's autogenerate."""


class SourcedMixin:
    """``source`` (e.g. ``osm``) and ``source_id`` (e.g. ``node/123``), unique together.

    ``attributes`` keeps every column of an input file that has no field of its own, under
    its original name (``sampah_masuk`` of Bandung's TPS list, say).
    """

    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attributes: Mapped[dict | None] = mapped_column(JSONB)


class AdminArea(SourcedMixin, Base):
    """An administrative area: provinsi, kabupaten/kota, kecamatan, kelurahan/desa."""

    __tablename__ = "admin_area"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_admin_area_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    admin_level: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(String(32))
    population: Mapped[int | None] = mapped_column(BigInteger)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=False)


class Office(SourcedMixin, Base):
    """A public-service facility (kantor kelurahan, puskesmas, police station, ...)."""

    __tablename__ = "office"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_office_source"),
        Index("ix_office_category", "category"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(64))
    opening_hours: Mapped[str | None] = mapped_column(Text)
    services: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    geom = mapped_column(Geometry("POINT", srid=4326), nullable=False)


class WasteBin(SourcedMixin, Base):
    """A waste point: waste basket, TPS (waste_disposal) or recycling."""

    __tablename__ = "waste_bin"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_waste_bin_source"),
        CheckConstraint(
            "fill_level IS NULL OR (fill_level >= 0 AND fill_level <= 1)",
            name="ck_waste_bin_fill_level",
        ),
        Index("ix_waste_bin_kind", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    capacity_l: Mapped[float | None] = mapped_column(Float)
    fill_level: Mapped[float | None] = mapped_column(Float)
    last_emptied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("POINT", srid=4326), nullable=False)


class RoadSegment(SourcedMixin, Base):
    """One routable network edge: an OSM way split at intersections.

    ``u`` and ``v`` are the OSM node ids of its ends, in digitising order (for a one-way
    street, the direction of travel). ``cost_*_s`` are travel times per mode, written by the
    network build; NULL where that mode may not pass.
    """

    __tablename__ = "road_segment"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_road_segment_source"),
        CheckConstraint(_in("condition", ROAD_CONDITIONS), name="ck_road_segment_condition"),
        Index("ix_road_segment_u", "u"),
        Index("ix_road_segment_v", "v"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    u: Mapped[int] = mapped_column(BigInteger)
    v: Mapped[int] = mapped_column(BigInteger)
    osm_way_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(Text)
    highway: Mapped[str] = mapped_column(String(32))
    oneway: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    maxspeed: Mapped[str | None] = mapped_column(String(32))
    surface: Mapped[str | None] = mapped_column(String(32))
    smoothness: Mapped[str | None] = mapped_column(String(32))
    length_m: Mapped[float] = mapped_column(Float)
    condition: Mapped[str] = mapped_column(String(24), server_default="unknown")
    condition_source: Mapped[str] = mapped_column(String(24), server_default="osm")
    inspected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cost_walk_s: Mapped[float | None] = mapped_column(Float)
    cost_motorcycle_s: Mapped[float | None] = mapped_column(Float)
    cost_car_s: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(Geometry("LINESTRING", srid=4326), nullable=False)


class RoadInspection(SourcedMixin, Base):
    """One field inspection of a road's condition, kept as history (every record a row).

    It names its road by ``osm_way_id`` or by a point or line geometry; ``matched`` is the
    number of ``road_segment`` rows it was matched to (0: none, reported at ingest). The
    newest inspection of a segment sets its ``condition``.
    """

    __tablename__ = "road_inspection"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_road_inspection_source"),
        CheckConstraint(_in("condition", ROAD_CONDITIONS), name="ck_road_inspection_condition"),
        Index("ix_road_inspection_osm_way_id", "osm_way_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    condition: Mapped[str] = mapped_column(String(24))
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    osm_way_id: Mapped[int | None] = mapped_column(BigInteger)
    matched: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(Geometry("GEOMETRY", srid=4326), nullable=True)


#: States of one segment's part in a road-condition change (migration 0006).
ROAD_CHANGE_STATES: tuple[str, ...] = ("active", "restored", "superseded")


class RoadConditionChange(Base):
    """A staff change of road condition (a verified road report), restorable exactly.

    Written only by the ``SECURITY DEFINER`` functions of migration 0006, through
    :func:`gis.road_conditions.set_road_condition` and ``restore_road_condition``.
    """

    __tablename__ = "road_condition_change"
    __table_args__ = (
        CheckConstraint(
            _in("condition", ROAD_CONDITIONS), name="ck_road_condition_change_condition"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    condition: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text)
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    restored_by: Mapped[str | None] = mapped_column(Text)


class RoadConditionChangeSegment(Base):
    """One segment of a road-condition change: what it held before, and where it stands.

    The active changes of a segment form a stack (by ``change_id``); ``previous_*`` is what
    the change rests on. ``seq`` grows with every change that touched the road, so routers
    can read what changed since their cache was built.
    """

    __tablename__ = "road_condition_change_segment"
    __table_args__ = (
        CheckConstraint(_in("state", ROAD_CHANGE_STATES), name="ck_road_condition_change_state"),
        Index("ix_road_condition_change_segment_segment_id", "segment_id"),
        Index("ix_road_condition_change_segment_seq", "seq"),
    )

    change_id: Mapped[int] = mapped_column(
        ForeignKey("road_condition_change.id", ondelete="CASCADE"), primary_key=True
    )
    segment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("road_segment.id", ondelete="CASCADE"), primary_key=True
    )
    previous_condition: Mapped[str] = mapped_column(String(24))
    previous_source: Mapped[str] = mapped_column(String(24))
    inspected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(12), server_default="active")
    seq: Mapped[int] = mapped_column(BigInteger)


class Complaint(Base):
    """A citizen complaint (Open311 service request). Contact details live apart.

    ``source`` and ``source_id`` key complaints imported from a file (another city's Open311
    export, say); one made in SIGAP gets ``web`` and a random id by default.
    """

    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint(_in("status", COMPLAINT_STATUSES), name="ck_complaint_status"),
        CheckConstraint(_in("channel", COMPLAINT_CHANNELS), name="ck_complaint_channel"),
        Index("ix_complaint_status", "status"),
        UniqueConstraint("source", "source_id", name="uq_complaint_source"),
    )

    source: Mapped[str] = mapped_column(String(64), server_default="web")
    source_id: Mapped[str] = mapped_column(
        String(128), server_default=text("gen_random_uuid()::text")
    )
    attributes: Mapped[dict | None] = mapped_column(JSONB)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    service_code: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24), server_default="open")
    channel: Mapped[str] = mapped_column(String(16), server_default="web")
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    geom = mapped_column(Geometry("POINT", srid=4326), nullable=True)


class ComplaintReporter(Base):
    """The reporter's contact details, kept apart from the complaint so they can be protected.

    Never joined into a public response.
    """

    __tablename__ = "complaint_reporter"

    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaint.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))


class ComplaintEvent(Base):
    """One step in a complaint's life: created, status change, note, assignment."""

    __tablename__ = "complaint_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaint.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(128))


class IngestRun(Base):
    """Provenance of one ingest: what was read, when, and what it changed."""

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    new_counts: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    updated_counts: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    deleted_counts: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    rejects: Mapped[list] = mapped_column(JSONB, server_default="[]")
    status: Mapped[str] = mapped_column(String(16))

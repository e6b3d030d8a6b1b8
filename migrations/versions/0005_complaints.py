"""complaints: catalogue states, service-level clocks, staff users, API keys, audit, rate limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 23:30:00

The foundation's ``complaint``, ``complaint_event`` and ``complaint_reporter`` were
placeholders (``status`` open/acknowledged/..., ``public_id``); nothing real was stored in
them (0004 gave ``complaint`` ``source``, ``source_id`` and ``attributes`` for imports). This
revision drops them, with any rows, and creates the real tables:

* ``complaint``: tracking id (what the reporter sees, never the database id), Open311
  token, service code, agency and catalogue version, workflow ``state`` (checked against
  ``layers.complaint_catalogue.STATES``), ``channel`` (web, phone, desk, open311), *anonim*
  and *rahasia*, plain-text description (at most 4,000 characters), Open311 attributes, photo
  reference, idempotency key (unique) with the hash of the request it belongs to, the linked
  feature (layer, id, how it was chosen, distance), the three service-level due dates and
  the times that stop them, ``closed_at``; ``source`` and ``source_id`` (unique together, as
  in 0004): a complaint made in SIGAP has source ``sigap``, one imported from another
  system's export (``sigap ingest file --layer complaints``) keeps its own key, and has no
  Open311 token, request hash or SIGAP service-level clocks (those columns are required
  only for ``sigap`` rows: ``ck_complaint_sigap_fields``);
* ``complaint_reporter``: name, phone, e-mail and device id, written only through
  ``add_complaint_reporter(id, name, phone, email, device_id)`` (an *anonim* report has no
  row);
* ``complaint_event``: who (a staff user, or NULL for the reporter), when (the database
  clock), from and to state, notes;
* ``staff_user`` (roles admin, desk, sanitation, roads, planner; argon2 hash; lockout),
  ``api_key`` (SHA-256 only, revocable), ``contact_view`` (the audit of every view of contact
  details) and ``rate_limit_hit`` (UNLOGGED request counters shared by all workers).

Grants (``tests/test_migrations.py`` lists them):

* ``sigap_web``: read and insert ``complaint`` and ``complaint_event``; read ``api_key``
  (to check Open311 keys); read and write ``rate_limit_hit``; execute
  ``add_complaint_reporter``; nothing on ``complaint_reporter``, ``staff_user``,
  ``contact_view``.
* ``sigap_staff`` (a member of ``sigap_web``): also read ``complaint_reporter``, update
  ``complaint``, read and update ``staff_user`` (login bookkeeping), read and insert
  ``contact_view``.

Staff users and API keys are created by the owner (``sigap user add``, ``sigap apikey add``).
"""

from collections.abc import Sequence

import geoalchemy2  # noqa: F401
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "sigap_web"
STAFF = "sigap_staff"
STATES = (
    "diterima",
    "diverifikasi",
    "diteruskan",
    "dalam_proses",
    "selesai",
    "ditolak",
    "duplikat",
)
CHANNELS = ("web", "phone", "desk", "open311")
ROLES = ("admin", "desk", "sanitation", "roads", "planner")
EVENT_KINDS = ("created", "transition", "road_condition", "road_restored")
OLD_FUNCTION = "add_complaint_reporter(integer, text, text, text)"
FUNCTION = "add_complaint_reporter(integer, text, text, text, text)"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _point() -> Geometry:
    return Geometry(
        geometry_type="POINT",
        srid=4326,
        dimension=2,
        spatial_index=False,
        from_text="ST_GeomFromEWKT",
        name="geometry",
        nullable=False,
    )


def _now() -> sa.TextClause:
    return sa.text("now()")


_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION public.add_complaint_reporter(
    p_complaint_id integer, p_name text, p_phone text, p_email text, p_device_id text
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_name IS NULL AND p_phone IS NULL AND p_email IS NULL AND p_device_id IS NULL THEN
        RETURN;  -- an anonymous report stores no contact data at all
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM public.complaint c
        WHERE c.id = p_complaint_id AND c.xmin = pg_current_xact_id()::xid
          AND NOT c.anonim
    ) THEN
        RAISE EXCEPTION 'complaint % was not created in this transaction, or is anonymous',
            p_complaint_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.complaint_reporter (complaint_id, name, phone, email, device_id)
    VALUES (p_complaint_id, p_name, p_phone, p_email, p_device_id);
END
$$
"""


def _drop_placeholders() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT count(*) FROM complaint")).scalar()
    if rows:
        print(f"0005: dropping {rows} placeholder complaint rows (foundation schema)")
    op.execute(f"DROP FUNCTION IF EXISTS {OLD_FUNCTION}")
    op.drop_table("complaint_reporter")
    op.drop_index("ix_complaint_event_complaint_id", table_name="complaint_event")
    op.drop_table("complaint_event")
    op.drop_index("ix_complaint_status", table_name="complaint")
    op.drop_geospatial_index(
        "idx_complaint_geom", table_name="complaint", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("complaint")


def _create_accounts() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(_in("role", ROLES), name="ck_staff_user_role"),
        sa.CheckConstraint("username = lower(username)", name="ck_staff_user_username_lower"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("name"),
    )


def _create_complaint() -> None:
    tz = sa.DateTime(timezone=True)
    op.create_geospatial_table(
        "complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracking_id", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=True),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("catalogue_version", sa.String(length=32), nullable=True),
        sa.Column("agency", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("anonim", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("rahasia", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=True,
        ),
        sa.Column("photo_ref", sa.String(length=128), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("linked_layer", sa.String(length=32), nullable=True),
        sa.Column("linked_feature_id", sa.BigInteger(), nullable=True),
        sa.Column("link_method", sa.String(length=16), nullable=True),
        sa.Column("linked_distance_m", sa.Float(), nullable=True),
        sa.Column("linked_walk_s", sa.Float(), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("road_change_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", tz, server_default=_now(), nullable=False),
        sa.Column("updated_at", tz, server_default=_now(), nullable=False),
        sa.Column("forward_due_at", tz, nullable=True),
        sa.Column("follow_up_due_at", tz, nullable=True),
        sa.Column("due_at", tz, nullable=True),
        sa.Column("forwarded_at", tz, nullable=True),
        sa.Column("followed_up_at", tz, nullable=True),
        sa.Column("closed_at", tz, nullable=True),
        sa.Column("geom", _point(), nullable=False),
        sa.Column("source", sa.String(length=64), server_default="sigap", nullable=False),
        sa.Column(
            "source_id",
            sa.String(length=128),
            server_default=sa.text("gen_random_uuid()::text"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source <> 'sigap' OR (token IS NOT NULL AND catalogue_version IS NOT NULL"
            " AND agency IS NOT NULL AND request_hash IS NOT NULL AND forward_due_at IS NOT NULL"
            " AND follow_up_due_at IS NOT NULL AND due_at IS NOT NULL)",
            name="ck_complaint_sigap_fields",
        ),
        sa.CheckConstraint(_in("state", STATES), name="ck_complaint_state"),
        sa.CheckConstraint(_in("channel", CHANNELS), name="ck_complaint_channel"),
        sa.CheckConstraint("char_length(description) <= 4000", name="ck_complaint_description"),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["duplicate_of"], ["complaint.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tracking_id"),
        sa.UniqueConstraint("token"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("source", "source_id", name="uq_complaint_source"),
    )
    op.create_geospatial_index(
        "idx_complaint_geom",
        "complaint",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_complaint_state", "complaint", ["state"], unique=False)
    op.create_index("ix_complaint_created_at", "complaint", ["created_at"], unique=False)
    op.create_index("ix_complaint_service_code", "complaint", ["service_code"], unique=False)


def _create_dependents() -> None:
    op.create_table(
        "complaint_reporter",
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("complaint_id"),
    )
    op.create_table(
        "complaint_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("public_note", sa.Text(), nullable=True),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(_in("kind", EVENT_KINDS), name="ck_complaint_event_kind"),
        sa.ForeignKeyConstraint(["actor_id"], ["staff_user.id"]),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_complaint_event_complaint_id", "complaint_event", ["complaint_id"], unique=False
    )
    op.create_table(
        "contact_view",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_view_complaint_id", "contact_view", ["complaint_id"], unique=False)
    op.create_table(
        "rate_limit_hit",
        sa.Column("bucket", sa.String(length=160), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start"),
        prefixes=["UNLOGGED"],
    )


def _grant() -> None:
    op.execute(f"GRANT SELECT, INSERT ON complaint, complaint_event TO {WEB}")
    op.execute(f"GRANT USAGE ON SEQUENCE complaint_id_seq, complaint_event_id_seq TO {WEB}")
    op.execute(f"GRANT SELECT ON api_key TO {WEB}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_hit TO {WEB}")
    for table in ("complaint_reporter", "staff_user", "contact_view"):
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC, {WEB}")
    op.execute(f"GRANT SELECT ON complaint_reporter TO {STAFF}")
    op.execute(f"GRANT UPDATE ON complaint TO {STAFF}")
    op.execute(f"GRANT SELECT, UPDATE ON staff_user TO {STAFF}")
    op.execute(f"GRANT SELECT, INSERT ON contact_view TO {STAFF}")
    op.execute(f"GRANT USAGE ON SEQUENCE contact_view_id_seq TO {STAFF}")
    op.execute(_FUNCTION_SQL)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {WEB}")


def upgrade() -> None:
    _drop_placeholders()
    _create_accounts()
    _create_complaint()
    _create_dependents()
    _grant()


# --- downgrade: back to the foundation's placeholders (0001 + 0003) --------------------------

_OLD_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION public.add_complaint_reporter(
    p_complaint_id integer, p_name text, p_phone text, p_email text
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_name IS NULL AND p_phone IS NULL AND p_email IS NULL THEN
        RETURN;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM public.complaint c
        WHERE c.id = p_complaint_id AND c.xmin = pg_current_xact_id()::xid
    ) THEN
        RAISE EXCEPTION 'complaint % was not created in this transaction', p_complaint_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.complaint_reporter (complaint_id, name, phone, email)
    VALUES (p_complaint_id, p_name, p_phone, p_email);
END
$$
"""


def _create_placeholders() -> None:
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
            "requested_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
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
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("source", sa.String(length=64), server_default="web", nullable=False),
        sa.Column(
            "source_id",
            sa.String(length=128),
            server_default=sa.text("gen_random_uuid()::text"),
            nullable=False,
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
        sa.UniqueConstraint("source", "source_id", name="uq_complaint_source"),
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
        "complaint_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_complaint_event_complaint_id", "complaint_event", ["complaint_id"], unique=False
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
    op.execute(f"GRANT SELECT, INSERT ON complaint, complaint_event TO {WEB}")
    op.execute(f"GRANT USAGE ON SEQUENCE complaint_id_seq, complaint_event_id_seq TO {WEB}")
    op.execute(f"REVOKE ALL ON complaint_reporter FROM PUBLIC, {WEB}")
    op.execute(f"GRANT SELECT ON complaint_reporter TO {STAFF}")
    op.execute(f"GRANT UPDATE ON complaint TO {STAFF}")
    op.execute(_OLD_FUNCTION_SQL)
    op.execute(f"REVOKE ALL ON FUNCTION {OLD_FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {OLD_FUNCTION} TO {WEB}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    op.drop_table("rate_limit_hit")
    op.drop_index("ix_contact_view_complaint_id", table_name="contact_view")
    op.drop_table("contact_view")
    op.drop_index("ix_complaint_event_complaint_id", table_name="complaint_event")
    op.drop_table("complaint_event")
    op.drop_table("complaint_reporter")
    for name in ("ix_complaint_service_code", "ix_complaint_created_at", "ix_complaint_state"):
        op.drop_index(name, table_name="complaint")
    op.drop_geospatial_index(
        "idx_complaint_geom", table_name="complaint", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("complaint")
    op.drop_table("api_key")
    op.drop_table("staff_user")
    _create_placeholders()

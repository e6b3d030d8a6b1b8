"""database roles: sigap_web (public app), sigap_staff (reporter contact data); least privilege

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 22:00:00

Roles and who may do what
-------------------------
* The **owner** is the role that runs the migrations (``DATABASE_URL``; the local cluster's
  ``postgres``). It owns every table, runs ingest and builds the routing network (which writes
  ``road_segment.cost_*_s``).
* ``sigap_web``, the public web app (``sigap serve``): reads the public layers, reads and
  inserts complaints and complaint events, and has **no** privilege on
  ``complaint_reporter``. A reporter's contact details go in through
  ``add_complaint_reporter(complaint_id, name, phone, email)``, a ``SECURITY DEFINER``
  function owned by the owner: it inserts (never updates or reads), and only for a complaint
  created in the calling transaction, so the web role can store contact data it can never
  read back, and cannot attach contact data to someone else's complaint.
* ``sigap_staff``, staff pages: a member of ``sigap_web`` (so it can do all of that) that may
  also read ``complaint_reporter`` and update complaints.

Roles belong to the cluster, grants to each database: the roles are created only when missing
(many databases share one cluster, and tests create them by the dozen), and every database's
migration grants its own tables. Nothing is granted by default: **each later migration that
adds a table grants what ``sigap_web`` and ``sigap_staff`` may do with it**, and
``tests/web/test_roles.py`` fails when a table's grants differ from the documented list.

Passwords: none are set by default (the local cluster uses ``trust`` auth on 127.0.0.1). When
``SIGAP_WEB_DATABASE_URL`` or ``SIGAP_STAFF_DATABASE_URL`` carries a password for its role,
the migration sets it (change it later with ``ALTER ROLE ... PASSWORD``). A migrating role
without ``CREATEROLE`` can still run this migration when a DBA created the two roles first.
"""

from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import text

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "sigap_web"
STAFF = "sigap_staff"
#: Tables of the public map layers: sigap_web reads them.
LAYER_TABLES = ("office", "waste_bin", "road_segment", "admin_area")
#: Complaint tables sigap_web reads and inserts into (with their id sequences).
INTAKE_TABLES = ("complaint", "complaint_event")
FUNCTION = "add_complaint_reporter(integer, text, text, text)"

_CREATE_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
        BEGIN
            CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role {role} does not exist and % may not create it',
                    current_user
                    USING HINT = 'Create the roles sigap_web and sigap_staff first '
                                 '(CREATE ROLE {role} LOGIN PASSWORD ...), or migrate as a '
                                 'role with CREATEROLE.';
        END;
    END IF;
END
$$
"""

_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION public.add_complaint_reporter(
    p_complaint_id integer, p_name text, p_phone text, p_email text
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_name IS NULL AND p_phone IS NULL AND p_email IS NULL THEN
        RETURN;  -- an anonymous report stores no contact data at all
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


def _set_password(role: str, env_var: str) -> None:
    import os

    from sqlalchemy.engine import make_url

    raw = os.environ.get(env_var)
    if not raw or context.is_offline_mode():
        return
    url = make_url(raw)
    if url.username == role and url.password:
        op.get_bind().execute(
            text(f"ALTER ROLE {role} PASSWORD :password"),  # noqa: S608 - role is a constant
            {"password": str(url.password)},
        )


def upgrade() -> None:
    for role in (WEB, STAFF):
        op.execute(_CREATE_ROLE.format(role=role))
    op.execute(f"GRANT {WEB} TO {STAFF}")
    _set_password(WEB, "SIGAP_WEB_DATABASE_URL")
    _set_password(STAFF, "SIGAP_STAFF_DATABASE_URL")

    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {WEB}, {STAFF}', "
        "current_database()); END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {WEB}")
    op.execute(f"GRANT SELECT ON {', '.join(LAYER_TABLES)} TO {WEB}")
    op.execute(f"GRANT SELECT, INSERT ON {', '.join(INTAKE_TABLES)} TO {WEB}")
    op.execute(
        f"GRANT USAGE ON SEQUENCE {', '.join(t + '_id_seq' for t in INTAKE_TABLES)} TO {WEB}"
    )
    op.execute(f"REVOKE ALL ON complaint_reporter FROM PUBLIC, {WEB}")
    op.execute(f"GRANT SELECT ON complaint_reporter TO {STAFF}")
    op.execute(f"GRANT UPDATE ON complaint TO {STAFF}")

    op.execute(_FUNCTION_SQL)
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {WEB}")


def downgrade() -> None:
    # The roles stay: they belong to the cluster, and other databases may use them.
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    op.execute(f"REVOKE ALL ON complaint, complaint_reporter FROM {STAFF}")
    tables = ", ".join((*LAYER_TABLES, *INTAKE_TABLES))
    op.execute(f"REVOKE ALL ON {tables} FROM {WEB}")
    op.execute(
        f"REVOKE ALL ON SEQUENCE {', '.join(t + '_id_seq' for t in INTAKE_TABLES)} FROM {WEB}"
    )
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {WEB}")
    op.execute(
        f"DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {WEB}, {STAFF}', "
        "current_database()); END $$"
    )

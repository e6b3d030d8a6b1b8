"""road condition changes: staff set a segment's condition (a road report) and restore it exactly

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 10:00:00

What this adds
--------------
* ``road_condition_change``: one row per staff action (new condition, source, note, who and
  when; when and by whom it was restored).
* ``road_condition_change_segment``: per segment of a change, the condition and
  ``condition_source`` it replaced (``previous_*``), the segment's ``inspected_at`` at that
  moment, its ``state`` (``active``, ``restored``, ``superseded``) and ``seq``, which grows
  with every change that touched the road (routers read "what changed since my cache").
* ``sigap_set_road_condition(segment_ids, condition, source, note) -> change id`` and
  ``sigap_restore_road_condition(change id) -> segments whose condition changed``:
  ``SECURITY DEFINER`` functions owned by the owner. ``sigap_staff`` may execute them and
  read both tables; ``sigap_web`` may read ``road_condition_change_segment`` (segment ids and
  sequence numbers: what its routers need to follow changes) and nothing else new. Neither
  role gets any privilege on ``road_segment`` beyond its ``SELECT``: condition, source and
  ``updated_at`` change only through these functions.

The rules (``gis/road_conditions.py`` has the longer story)
------------------------------------------------------------
* The active changes of one segment form a stack, in ``change_id`` order. Setting pushes:
  the new row's ``previous_*`` is the segment's condition and source before it.
* Restoring the top of the stack puts its ``previous_*`` back on the road. Restoring a change
  lower in the stack leaves the road alone (a later change still holds it) and hands its
  ``previous_*`` to the change just above it, so whatever is restored last puts back what
  the segment had before the first one: restores are exact in any order.
* A write that did not come through these functions (a field inspection, an import: the
  segment's condition, source or ``inspected_at`` differ from what the top of the stack
  wrote) is newer than the whole stack: the next set or restore on that segment marks the
  stack ``superseded`` and leaves that write alone.
* Both functions run one at a time (a transaction-level advisory lock), take
  ``road_segment``'s ``ROW EXCLUSIVE`` lock before anything else (a network build, which
  holds ``SHARE ROW EXCLUSIVE`` while it reads, sees all of a change or none of it), and send
  ``NOTIFY sigap_road_condition, '<change id>'`` on commit.

The owner recomputes ``road_segment.cost_*_s`` of the touched segments (``sigap serve``'s
network keeper, :mod:`gis.network_keeper`, or any ``sigap network build``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEB = "sigap_web"
STAFF = "sigap_staff"
#: Road condition classes (layers.vocab.ROAD_CONDITIONS at the time of writing).
CONDITIONS = ("baik", "sedang", "rusak_ringan", "rusak_berat", "tidak_dapat_dilalui", "unknown")
STATES = ("active", "restored", "superseded")
SET_FUNCTION = "sigap_set_road_condition(bigint[], text, text, text)"
RESTORE_FUNCTION = "sigap_restore_road_condition(integer)"
#: pg_advisory_xact_lock key: set and restore run one at a time.
LOCK_KEY = 7_306_100_906


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_SET_SQL = """
CREATE OR REPLACE FUNCTION public.sigap_set_road_condition(
    p_segment_ids bigint[], p_condition text, p_source text, p_note text
) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_change integer;
    v_missing text;
    v_seg record;
    v_top record;
BEGIN
    IF p_condition IS NULL OR p_condition NOT IN (__SETTABLE__) THEN
        RAISE EXCEPTION 'unknown road condition %', coalesce(p_condition, 'NULL')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'condition';
    END IF;
    IF p_source IS NULL OR btrim(p_source) = '' OR length(p_source) > 24 OR p_source = 'osm' THEN
        RAISE EXCEPTION 'the source must be 1 to 24 characters and not ''osm'''
            USING ERRCODE = 'invalid_parameter_value', HINT = 'source';
    END IF;
    IF p_segment_ids IS NULL OR cardinality(p_segment_ids) = 0
       OR array_position(p_segment_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'no road segment ids given'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'segment_ids';
    END IF;
    PERFORM pg_advisory_xact_lock(__LOCK_KEY__);
    LOCK TABLE public.road_segment IN ROW EXCLUSIVE MODE;
    SELECT string_agg(i::text, ', ' ORDER BY i) INTO v_missing
    FROM (SELECT DISTINCT unnest(p_segment_ids) AS i) ids
    WHERE NOT EXISTS (SELECT 1 FROM public.road_segment s WHERE s.id = ids.i);
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'no road segment with id %', v_missing
            USING ERRCODE = 'no_data_found', HINT = 'segment_ids';
    END IF;
    INSERT INTO public.road_condition_change (condition, source, note, created_by)
    VALUES (p_condition, p_source, p_note, session_user)
    RETURNING id INTO v_change;
    FOR v_seg IN
        SELECT s.id, s.condition, s.condition_source, s.inspected_at
        FROM public.road_segment s WHERE s.id = ANY (p_segment_ids) ORDER BY s.id FOR UPDATE
    LOOP
        SELECT cs.change_id, c.condition, c.source, cs.inspected_at INTO v_top
        FROM public.road_condition_change_segment cs
        JOIN public.road_condition_change c ON c.id = cs.change_id
        WHERE cs.segment_id = v_seg.id AND cs.state = 'active'
        ORDER BY cs.change_id DESC LIMIT 1;
        IF FOUND AND (v_seg.condition, v_seg.condition_source, v_seg.inspected_at)
                IS DISTINCT FROM (v_top.condition, v_top.source, v_top.inspected_at) THEN
            -- written since by something else (an inspection, an import): the stack is void
            UPDATE public.road_condition_change_segment SET state = 'superseded'
            WHERE segment_id = v_seg.id AND state = 'active';
        END IF;
        INSERT INTO public.road_condition_change_segment
            (change_id, segment_id, previous_condition, previous_source, inspected_at, seq)
        VALUES (v_change, v_seg.id, v_seg.condition, v_seg.condition_source, v_seg.inspected_at,
                nextval('public.road_condition_seq'));
        UPDATE public.road_segment
        SET condition = p_condition, condition_source = p_source, updated_at = now()
        WHERE id = v_seg.id;
    END LOOP;
    PERFORM pg_notify('sigap_road_condition', v_change::text);
    RETURN v_change;
END
$$
""".replace("__SETTABLE__", _in(CONDITIONS[:-1])).replace("__LOCK_KEY__", str(LOCK_KEY))

_RESTORE_SQL = """
CREATE OR REPLACE FUNCTION public.sigap_restore_road_condition(p_change integer)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_restored timestamptz;
    v_row record;
    v_top record;
    v_count integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(__LOCK_KEY__);
    LOCK TABLE public.road_segment IN ROW EXCLUSIVE MODE;
    SELECT restored_at INTO v_restored FROM public.road_condition_change
    WHERE id = p_change FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no road condition change with id %', coalesce(p_change::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'change_id';
    END IF;
    IF v_restored IS NOT NULL THEN
        RETURN 0;  -- restored before: nothing to do
    END IF;
    FOR v_row IN
        SELECT cs.segment_id, cs.previous_condition, cs.previous_source,
               s.condition, s.condition_source, s.inspected_at
        FROM public.road_condition_change_segment cs
        JOIN public.road_segment s ON s.id = cs.segment_id
        WHERE cs.change_id = p_change AND cs.state = 'active'
        ORDER BY cs.segment_id
        FOR UPDATE OF s
    LOOP
        SELECT cs.change_id, c.condition, c.source, cs.inspected_at INTO v_top
        FROM public.road_condition_change_segment cs
        JOIN public.road_condition_change c ON c.id = cs.change_id
        WHERE cs.segment_id = v_row.segment_id AND cs.state = 'active'
        ORDER BY cs.change_id DESC LIMIT 1;
        IF (v_row.condition, v_row.condition_source, v_row.inspected_at)
                IS DISTINCT FROM (v_top.condition, v_top.source, v_top.inspected_at) THEN
            -- written since by something else: that write stands, the stack is void
            UPDATE public.road_condition_change_segment SET state = 'superseded'
            WHERE segment_id = v_row.segment_id AND state = 'active';
            CONTINUE;
        END IF;
        IF v_top.change_id = p_change THEN
            UPDATE public.road_segment
            SET condition = v_row.previous_condition, condition_source = v_row.previous_source,
                updated_at = now()
            WHERE id = v_row.segment_id;
            v_count := v_count + 1;
        ELSE
            -- a later change holds the road; it now rests on what this one rested on
            UPDATE public.road_condition_change_segment
            SET previous_condition = v_row.previous_condition,
                previous_source = v_row.previous_source
            WHERE segment_id = v_row.segment_id AND state = 'active' AND change_id = (
                SELECT min(change_id) FROM public.road_condition_change_segment
                WHERE segment_id = v_row.segment_id AND state = 'active'
                  AND change_id > p_change);
        END IF;
        UPDATE public.road_condition_change_segment
        SET state = 'restored', seq = nextval('public.road_condition_seq')
        WHERE change_id = p_change AND segment_id = v_row.segment_id;
    END LOOP;
    UPDATE public.road_condition_change SET restored_at = now(), restored_by = session_user
    WHERE id = p_change;
    PERFORM pg_notify('sigap_road_condition', p_change::text);
    RETURN v_count;
END
$$
""".replace("__LOCK_KEY__", str(LOCK_KEY))


def upgrade() -> None:
    op.create_table(
        "road_condition_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            f"condition IN ({_in(CONDITIONS)})", name="ck_road_condition_change_condition"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "road_condition_change_segment",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_condition", sa.String(length=24), nullable=False),
        sa.Column("previous_source", sa.String(length=24), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(f"state IN ({_in(STATES)})", name="ck_road_condition_change_state"),
        sa.ForeignKeyConstraint(["change_id"], ["road_condition_change.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["segment_id"], ["road_segment.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("change_id", "segment_id"),
    )
    op.create_index(
        "ix_road_condition_change_segment_segment_id",
        "road_condition_change_segment",
        ["segment_id"],
    )
    op.create_index(
        "ix_road_condition_change_segment_seq", "road_condition_change_segment", ["seq"]
    )
    op.execute("CREATE SEQUENCE road_condition_seq")
    op.execute(_SET_SQL)
    op.execute(_RESTORE_SQL)
    for function in (SET_FUNCTION, RESTORE_FUNCTION):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {STAFF}")
    op.execute(f"GRANT SELECT ON road_condition_change, road_condition_change_segment TO {STAFF}")
    op.execute(f"GRANT SELECT ON road_condition_change_segment TO {WEB}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SET_FUNCTION}")
    op.execute(f"DROP FUNCTION IF EXISTS {RESTORE_FUNCTION}")
    op.drop_index("ix_road_condition_change_segment_seq", "road_condition_change_segment")
    op.drop_index("ix_road_condition_change_segment_segment_id", "road_condition_change_segment")
    op.drop_table("road_condition_change_segment")
    op.drop_table("road_condition_change")
    op.execute("DROP SEQUENCE IF EXISTS road_condition_seq")

"""Complaint intake: the one path the web form, Open311 and the help desk all take.

:func:`parse_complaint` turns raw values (form fields, JSON, Open311 arguments, strings or
typed values) into a checked :class:`ComplaintInput`, or raises
:class:`gis.errors.InvalidInputError` naming the field. :func:`submit_complaint` stores it in
the caller's transaction and returns an :class:`Intake`:

* a tracking id (``7KQ2-M9TX``: 8 characters of Crockford's base 32, no I, L, O or U, so it
  survives being read out on the phone; never the database id) and an Open311 token;
* the service's agency, the catalogue version, the state ``diterima``;
* the service-level clocks from the working-day calendar (:mod:`services.calendar`):
  forwarding due in 3 working days, follow-up in 5, resolution in the service's ``sla_days``;
* the linked feature (:mod:`services.linking`): the nearest waste bin, road segment or office
  by the routing network where it exists, by straight-line distance otherwise; where a
  network exists, a point more than 1 km from every road is refused;
* the first ``complaint_event`` (``created``), timed by the database clock;
* the reporter's name, phone, e-mail and device id through ``add_complaint_reporter`` (the
  web role cannot read them back); an *anonim* report stores none of them, whatever was sent;
* the idempotency key: a retried request with the same key and the same content returns the
  stored complaint (``replayed=True``) and stores nothing; the same key with different
  content is a :class:`services.errors.ConflictError` (HTTP 409). Concurrent requests with one
  key are settled by the unique index: exactly one is stored. The content compared is the
  report itself (service, point, description, address, attributes, photo, anonim/rahasia,
  channel), not the contact details, so no hash of a phone number is stored.

Texts are plain text: NUL bytes and other control characters (except line breaks and tabs in
multi-line fields) are refused, not stripped; they are stored as typed (NFC-normalised) and
escaped wherever they are shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gis import validate
from layers.complaint_catalogue import (
    CATALOGUE_VERSION,
    CHANNELS,
    FOLLOW_UP_DAYS,
    FORWARD_DAYS,
    INITIAL_STATE,
    SERVICES,
)
from layers.complaint_spec import AttributeSpec, ServiceSpec
from services import linking
from services.calendar import get_calendar, now_utc
from services.errors import ConflictError, InvalidInputError

logger = logging.getLogger(__name__)

#: Crockford's base 32: digits and letters without I, L, O and U.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_LENGTH = 8
MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
MAX_NAME = 200
MAX_PHONE = 32
MAX_EMAIL = 254
MAX_DEVICE_ID = 128
MAX_ATTRIBUTES = 20
#: Client-chosen idempotency keys: 8 to 128 of these characters (a UUID fits).
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
#: A photo reference made by the photo store: a file name without a directory.
PHOTO_REF = re.compile(r"[A-Za-z0-9_-]{8,100}\.(?:jpg|png)")
PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{4,30}")
EMAIL = re.compile(r"[^@\s<>\"']{1,64}@[^@\s<>\"']{1,189}\.[^@\s<>\"'.]{2,63}")
_TRUE = frozenset({"true", "1", "yes", "on", "ya"})
_FALSE = frozenset({"false", "0", "no", "off", "tidak", ""})
_ALLOWED_CONTROLS = frozenset("\n\t")


@dataclass(frozen=True)
class Reporter:
    """A reporter's contact details; all optional, none stored for an *anonim* report."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    device_id: str | None = None

    @property
    def empty(self) -> bool:
        """Whether no detail is given."""
        return not (self.name or self.phone or self.email or self.device_id)


@dataclass(frozen=True)
class ComplaintInput:
    """A checked complaint, ready to store (see :func:`parse_complaint`)."""

    service_code: str
    lat: float
    lon: float
    description: str
    address: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    anonim: bool = False
    rahasia: bool = False
    reporter: Reporter = field(default_factory=Reporter)
    photo_ref: str | None = None
    idempotency_key: str | None = None

    @property
    def service(self) -> ServiceSpec:
        """The service of the catalogue."""
        return SERVICES[self.service_code]

    def content_hash(self, channel: str) -> str:
        """Return the SHA-256 of the report's content (not its contact details)."""
        content = {
            "service_code": self.service_code,
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "description": self.description,
            "address": self.address,
            "attributes": dict(self.attributes),
            "anonim": self.anonim,
            "rahasia": self.rahasia,
            "photo_ref": self.photo_ref,
            "channel": channel,
        }
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Intake:
    """The stored complaint, as its submitter sees it (no contact details).

    Attributes
    ----------
    id : int
        Database id (for staff pages; never shown to citizens).
    tracking_id : str
        What the reporter keeps.
    token : str
        The Open311 token.
    service_code, agency, state, channel : str
        As stored.
    created_at, forward_due_at, follow_up_due_at, due_at : datetime
        Receipt (database clock) and the three service-level due dates.
    link : Link, optional
        The linked feature.
    replayed : bool
        True when this answers a retry with a known idempotency key: nothing new was stored.
    contact_stored : bool
        Whether contact details were stored (False for *anonim* reports and replays).
    """

    id: int
    tracking_id: str
    token: str
    service_code: str
    agency: str
    state: str
    channel: str
    created_at: datetime
    forward_due_at: datetime
    follow_up_due_at: datetime
    due_at: datetime
    link: linking.Link | None
    replayed: bool = False
    contact_stored: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the intake as JSON-ready data (ISO 8601 times)."""
        return {
            "tracking_id": self.tracking_id,
            "token": self.token,
            "service_code": self.service_code,
            "agency": self.agency,
            "state": self.state,
            "channel": self.channel,
            "created_at": self.created_at.isoformat(),
            "forward_due_at": self.forward_due_at.isoformat(),
            "follow_up_due_at": self.follow_up_due_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "linked_feature": (
                None
                if self.link is None
                else {
                    "layer": self.link.layer,
                    "id": self.link.feature_id,
                    "method": self.link.method,
                    "distance_m": self.link.distance_m,
                    "walk_s": self.link.walk_s,
                }
            ),
            "replayed": self.replayed,
            "contact_stored": self.contact_stored,
        }


# --- tracking ids ------------------------------------------------------------------------------


def new_tracking_id() -> str:
    """Return a random tracking id, ``XXXX-XXXX`` (40 bits)."""
    chars = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_tracking_id(raw: object) -> str | None:
    """Return the canonical form of a tracking id as typed, or None if it cannot be one.

    Case, spaces and hyphens do not matter; ``O`` reads as ``0``, ``I`` and ``L`` as ``1``
    (Crockford's decoding), so an id read out on the phone still matches.
    """
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    s = re.sub(r"[\s-]", "", raw).upper().replace("O", "0").replace("I", "1").replace("L", "1")
    if len(s) != TRACKING_LENGTH or any(c not in TRACKING_ALPHABET for c in s):
        return None
    return f"{s[:4]}-{s[4:]}"


# --- parsing -----------------------------------------------------------------------------------


def _bad(param: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, code="invalid_parameter", param=param)


def clean_text(
    raw: object, param: str, *, max_length: int, required: bool = False, multiline: bool = False
) -> str | None:
    """Check one plain-text field and return it NFC-normalised and stripped.

    Parameters
    ----------
    raw : object
        The value as sent (None or an empty string: absent).
    param : str
        Its name, for the error.
    max_length : int
        Most characters allowed.
    required : bool
        Whether it must be given.
    multiline : bool
        Whether line breaks and tabs are allowed.

    Returns
    -------
    str or None
        The text, or None when absent and not required.

    Raises
    ------
    InvalidInputError
        Not text, a NUL byte or another control character, too long, or missing.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise _bad(param, f"'{param}' is required.")
        return None
    if not isinstance(raw, str):
        raise _bad(param, f"'{param}' must be text.")
    if "\x00" in raw:
        raise _bad(param, f"'{param}' contains a NUL byte; send plain text.")
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n").strip()
    allowed = _ALLOWED_CONTROLS if multiline else frozenset()
    bad = next((c for c in text if unicodedata.category(c) == "Cc" and c not in allowed), None)
    if bad is not None:
        raise _bad(param, f"'{param}' contains the control character U+{ord(bad):04X}.")
    if len(text) > max_length:
        raise _bad(param, f"'{param}' may have at most {max_length} characters, got {len(text)}.")
    return text


def parse_bool(raw: object, param: str) -> bool:
    """Parse a yes/no field: a boolean, or ``true``/``false``, ``1``/``0``, ``on``/``off``."""
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise _bad(param, f"'{param}' must be true or false, got {raw!r}.")


def _attribute(spec: AttributeSpec, raw: object) -> Any:
    param = f"attribute[{spec.code}]"
    if spec.datatype == "multivaluelist":
        values = raw if isinstance(raw, list | tuple) else [raw]
        out = []
        for v in values:
            if v not in spec.keys:
                raise _bad(param, f"'{param}' must be among: {', '.join(spec.keys)}; got {v!r}.")
            out.append(v)
        return sorted(set(out))
    if isinstance(raw, list | tuple):
        if len(raw) != 1:
            raise _bad(param, f"'{param}' takes one value.")
        raw = raw[0]
    if spec.datatype == "singlevaluelist":
        if raw not in spec.keys:
            raise _bad(param, f"'{param}' must be one of: {', '.join(spec.keys)}; got {raw!r}.")
        return raw
    if spec.datatype == "number":
        low = spec.minimum if spec.minimum is not None else -1e12
        high = spec.maximum if spec.maximum is not None else 1e12
        return validate.in_range(raw, param, low, high)
    if spec.datatype == "datetime":
        text = clean_text(raw, param, max_length=40, required=True)
        try:
            moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError as exc:
            raise _bad(param, f"'{param}' must be an ISO 8601 date and time.") from exc
        if moment.tzinfo is None:
            raise _bad(param, f"'{param}' needs a time zone (Z or +07:00).")
        return moment.isoformat()
    return clean_text(
        raw, param, max_length=spec.max_length, required=True, multiline=spec.datatype == "text"
    )


def parse_attributes(service: ServiceSpec, raw: object) -> dict[str, Any]:
    """Check a service's attributes (an Open311 service definition's answers).

    Parameters
    ----------
    service : ServiceSpec
        The service.
    raw : mapping or None
        ``code -> value`` (a list for ``multivaluelist``).

    Returns
    -------
    dict
        The checked answers; empty answers are left out.

    Raises
    ------
    InvalidInputError
        An unknown code, a bad value, or a required attribute missing (``param``
        ``attribute[code]``).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise _bad("attributes", "'attributes' must be an object of code -> value.")
    if len(raw) > MAX_ATTRIBUTES:
        raise _bad("attributes", f"At most {MAX_ATTRIBUTES} attributes.")
    out: dict[str, Any] = {}
    for code, value in raw.items():
        spec = service.attribute(str(code))
        if spec is None:
            known = ", ".join(a.code for a in service.attributes) or "none"
            msg = f"Service {service.code!r} has no attribute {code!r} (it has: {known})."
            raise _bad(f"attribute[{code}]", msg)
        if value is None or value == "" or value == []:
            continue
        out[spec.code] = _attribute(spec, value)
    for spec in service.attributes:
        if spec.required and spec.code not in out:
            raise _bad(f"attribute[{spec.code}]", f"'attribute[{spec.code}]' is required.")
    return out


def parse_reporter(raw: Mapping[str, Any]) -> Reporter:
    """Check the optional contact details ``name``, ``phone``, ``email`` and ``device_id``."""
    name = clean_text(raw.get("name"), "name", max_length=MAX_NAME)
    phone = clean_text(raw.get("phone"), "phone", max_length=MAX_PHONE)
    if phone is not None and not PHONE.fullmatch(phone):
        raise _bad("phone", "'phone' must be a phone number (digits, spaces, + ( ) - . /).")
    email = clean_text(raw.get("email"), "email", max_length=MAX_EMAIL)
    if email is not None and not EMAIL.fullmatch(email):
        raise _bad("email", "'email' must be an e-mail address.")
    device = clean_text(raw.get("device_id"), "device_id", max_length=MAX_DEVICE_ID)
    return Reporter(name=name, phone=phone, email=email, device_id=device)


def parse_complaint(raw: Mapping[str, Any]) -> ComplaintInput:
    """Check a complaint from any channel.

    Parameters
    ----------
    raw : mapping
        ``service_code``, ``lat``, ``lon``, ``description`` (required); ``address``,
        ``attributes`` (a mapping), ``anonim``, ``rahasia``, ``name``, ``phone``, ``email``,
        ``device_id``, ``photo_ref``, ``idempotency_key`` (optional). Values may be strings
        (forms, query strings) or JSON values.

    Returns
    -------
    ComplaintInput
        The checked complaint.

    Raises
    ------
    InvalidInputError
        The first bad or missing field, named in ``param``.
    """
    code = raw.get("service_code")
    if code is None or code == "":
        raise _bad("service_code", f"'service_code' is required; one of: {', '.join(SERVICES)}.")
    if code not in SERVICES:
        raise _bad("service_code", f"'service_code' must be one of: {', '.join(SERVICES)}.")
    service = SERVICES[str(code)]
    for param in ("lat", "lon"):
        if raw.get(param) is None or raw.get(param) == "":
            raise _bad(param, f"'{param}' is required (degrees, WGS84).")
    lat, lon = validate.point(raw["lat"], raw["lon"])
    description = clean_text(
        raw.get("description"),
        "description",
        max_length=MAX_DESCRIPTION,
        required=True,
        multiline=True,
    )
    assert description is not None
    address = clean_text(raw.get("address"), "address", max_length=MAX_ADDRESS)
    attributes = parse_attributes(service, raw.get("attributes"))
    anonim = parse_bool(raw.get("anonim"), "anonim")
    rahasia = parse_bool(raw.get("rahasia"), "rahasia")
    reporter = parse_reporter(raw)
    photo = raw.get("photo_ref")
    if photo not in (None, "") and (not isinstance(photo, str) or not PHOTO_REF.fullmatch(photo)):
        raise _bad("photo_ref", "'photo_ref' is not a photo reference this server made.")
    key = raw.get("idempotency_key")
    if key not in (None, "") and (not isinstance(key, str) or not IDEMPOTENCY_KEY.fullmatch(key)):
        msg = "'idempotency_key' must have 8 to 128 letters, digits or '_.:-' (a UUID fits)."
        raise _bad("idempotency_key", msg)
    return ComplaintInput(
        service_code=service.code,
        lat=lat,
        lon=lon,
        description=description,
        address=address,
        attributes=attributes,
        anonim=anonim,
        rahasia=rahasia,
        reporter=Reporter() if anonim else reporter,
        photo_ref=photo or None,
        idempotency_key=key or None,
    )


# --- storing -----------------------------------------------------------------------------------

_INSERT_SQL = """
WITH c AS (
    INSERT INTO complaint (
        tracking_id, token, service_code, catalogue_version, agency, state, channel, anonim,
        rahasia, description, address, attributes, photo_ref, idempotency_key, request_hash,
        api_key_id, created_by, linked_layer, linked_feature_id, link_method,
        linked_distance_m, linked_walk_s, forward_due_at, follow_up_due_at, due_at, geom)
    VALUES (
        %(tracking_id)s, %(token)s, %(service_code)s, %(version)s, %(agency)s, %(state)s,
        %(channel)s, %(anonim)s, %(rahasia)s, %(description)s, %(address)s, %(attributes)s,
        %(photo_ref)s, %(key)s, %(hash)s, %(api_key_id)s, %(staff)s, %(layer)s,
        %(feature)s, %(method)s, %(distance)s, %(walk)s, %(forward_due)s, %(follow_up_due)s,
        %(due)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
    ON CONFLICT DO NOTHING
    RETURNING id, created_at
), e AS (
    INSERT INTO complaint_event (complaint_id, at, kind, to_state, actor_id, channel)
    SELECT id, created_at, 'created', %(state)s, %(staff)s, %(channel)s FROM c
)
SELECT id, created_at FROM c
"""

_EXISTING_SQL = """
SELECT id, tracking_id, token, service_code, agency, state, channel, created_at,
       forward_due_at, follow_up_due_at, due_at, linked_layer, linked_feature_id, link_method,
       linked_distance_m, linked_walk_s, request_hash
FROM complaint WHERE idempotency_key = %s
"""

#: Attempts at a fresh tracking id and token when one is taken (40 random bits: rare).
_ID_ATTEMPTS = 5


def _replay(row, data: ComplaintInput, channel: str) -> Intake:
    (cid, tracking, token, code, agency, state, ch, created, fwd, fup, due, layer, feature) = row[
        :13
    ]
    method, distance, walk, stored_hash = row[13:]
    if stored_hash != data.content_hash(channel):
        msg = (
            "This idempotency key was already used for a different report. Use a new key for "
            "a new report, or resend exactly the same report to get its tracking id."
        )
        raise ConflictError(msg, code="idempotency_key_reused", param="idempotency_key")
    link = None if layer is None else linking.Link(layer, feature, method, distance, walk)
    return Intake(
        cid, tracking, token, code, agency, state, ch, created, fwd, fup, due, link, replayed=True
    )


def submit_complaint(
    cur,
    data: ComplaintInput,
    *,
    channel: str,
    routing_url: str | None,
    staff_user_id: int | None = None,
    api_key_id: int | None = None,
) -> Intake:
    """Store a complaint in the caller's transaction (see the module docstring).

    Parameters
    ----------
    cur : cursor
        A cursor of the web role's (or a member's) connection; the caller commits.
    data : ComplaintInput
        From :func:`parse_complaint`.
    channel : str
        ``web``, ``phone``, ``desk`` or ``open311`` (set by the caller, never by the client).
    routing_url : str, optional
        Database URL whose routing network links the complaint (the same database); None
        links by straight-line distance.
    staff_user_id : int, optional
        The desk officer who took it (``phone`` and ``desk``).
    api_key_id : int, optional
        The Open311 key it came with.

    Returns
    -------
    Intake
        The stored complaint, or the earlier one for a replayed idempotency key.

    Raises
    ------
    InvalidInputError
        The point is more than 1 km from every road of an existing network.
    ConflictError
        The idempotency key belongs to a different report.
    """
    if channel not in CHANNELS:
        msg = f"unknown channel {channel!r}"
        raise ValueError(msg)
    service = data.service
    router = linking.network_router(routing_url)
    snap = linking.snap_point(router, data.lat, data.lon)
    link = linking.link_feature(cur, service, data.lat, data.lon, router, snap)
    cal = get_calendar()
    now = now_utc()
    params: dict[str, Any] = {
        "service_code": service.code,
        "version": CATALOGUE_VERSION,
        "agency": service.agency,
        "state": INITIAL_STATE,
        "channel": channel,
        "anonim": data.anonim,
        "rahasia": data.rahasia,
        "description": data.description,
        "address": data.address,
        "attributes": json.dumps(dict(data.attributes), ensure_ascii=False),
        "photo_ref": data.photo_ref,
        "key": data.idempotency_key,
        "hash": data.content_hash(channel),
        "api_key_id": api_key_id,
        "staff": staff_user_id,
        "layer": link.layer if link else None,
        "feature": link.feature_id if link else None,
        "method": link.method if link else None,
        "distance": link.distance_m if link else None,
        "walk": link.walk_s if link else None,
        "forward_due": cal.add_working_days(now, FORWARD_DAYS),
        "follow_up_due": cal.add_working_days(now, FOLLOW_UP_DAYS),
        "due": cal.add_working_days(now, service.sla_days),
        "lat": data.lat,
        "lon": data.lon,
    }
    for _ in range(_ID_ATTEMPTS):
        params["tracking_id"] = new_tracking_id()
        params["token"] = secrets.token_urlsafe(16)
        cur.execute(_INSERT_SQL, params)
        row = cur.fetchone()
        if row is not None:
            break
        if data.idempotency_key is not None:  # a retry, or a concurrent twin that won
            cur.execute(_EXISTING_SQL, (data.idempotency_key,))
            existing = cur.fetchone()
            if existing is not None:
                return _replay(existing, data, channel)
        logger.info("tracking id or token taken; drawing another")
    else:
        msg = "could not draw a free tracking id"
        raise RuntimeError(msg)
    cid, created_at = row
    stored = not data.anonim and not data.reporter.empty
    if stored:
        r = data.reporter
        cur.execute(
            "SELECT add_complaint_reporter(%s, %s, %s, %s, %s)",
            (cid, r.name, r.phone, r.email, r.device_id),
        )
    return Intake(
        id=cid,
        tracking_id=params["tracking_id"],
        token=params["token"],
        service_code=service.code,
        agency=service.agency,
        state=INITIAL_STATE,
        channel=channel,
        created_at=created_at,
        forward_due_at=params["forward_due"],
        follow_up_due_at=params["follow_up_due"],
        due_at=params["due"],
        link=link,
        contact_stored=stored,
    )

"""What the complaint catalogue and workflow are, and the check of a whole catalogue.

Agencies, services, attributes, states and transitions. The catalogue itself is data in
:mod:`layers.complaint_catalogue`; this module says what that data may hold, in the style of
:mod:`layers.spec`. Nothing here imports the rest of SIGAP except the layer registry (a
service may link to a layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Open311 attribute datatypes (GeoReport v2 service definitions).
ATTRIBUTE_DATATYPES: frozenset[str] = frozenset(
    {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
)
#: Open311's two request statuses; every SIGAP state maps to one of them.
OPEN311_STATUSES: frozenset[str] = frozenset({"open", "closed"})
#: The pseudo-role of a transition: the staff roles of the complaint's agency.
AGENCY_ROLE = "agency"
#: How a complaint finds its linked feature: the nearest facility of a facility layer by
#: travel time on the walking network, or the nearest road segment.
LINK_KINDS: frozenset[str] = frozenset({"facility", "segment"})


def _label(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


@dataclass(frozen=True)
class Agency:
    """A responsible body (*dinas*) that complaints are forwarded to.

    Parameters
    ----------
    code : str
        Short identifier stored on each complaint (``dlh``).
    name_id, name_en : str
        Indonesian and English names.
    roles : tuple of str
        Staff roles that act for this agency (the :data:`AGENCY_ROLE` of a transition).
    """

    code: str
    name_id: str
    name_en: str
    roles: tuple[str, ...]

    def name(self, lang: str) -> str:
        """Return the agency's name in ``lang`` (``"en"``; anything else is Indonesian)."""
        return _label((self.name_id, self.name_en), lang)


@dataclass(frozen=True)
class AttributeValue:
    """One choice of a list attribute: its key and its labels."""

    key: str
    name_id: str
    name_en: str

    def name(self, lang: str) -> str:
        """Return the label in ``lang``."""
        return _label((self.name_id, self.name_en), lang)


@dataclass(frozen=True)
class AttributeSpec:
    """An extra question of a service, in the shape of an Open311 attribute.

    Parameters
    ----------
    code : str
        Open311 ``code``; the key of ``attribute[code]`` in a POST.
    datatype : str
        One of :data:`ATTRIBUTE_DATATYPES`.
    description_id, description_en : str
        The question, in Indonesian and English.
    required : bool
        Whether a request must answer it.
    values : tuple of AttributeValue
        The choices of a ``singlevaluelist`` or ``multivaluelist``; empty otherwise.
    max_length : int
        Longest answer of a ``string`` or ``text`` attribute, in characters.
    minimum, maximum : float, optional
        Bounds of a ``number`` attribute.
    """

    code: str
    datatype: str
    description_id: str
    description_en: str
    required: bool = False
    values: tuple[AttributeValue, ...] = ()
    max_length: int = 200
    minimum: float | None = None
    maximum: float | None = None

    def description(self, lang: str) -> str:
        """Return the question in ``lang``."""
        return _label((self.description_id, self.description_en), lang)

    @property
    def keys(self) -> tuple[str, ...]:
        """The allowed keys of a list attribute."""
        return tuple(v.key for v in self.values)


@dataclass(frozen=True)
class ServiceLink:
    """Which layer a service's complaints link to, and how the feature is chosen.

    Parameters
    ----------
    layer : str
        A layer of :data:`layers.registry.LAYERS`.
    kind : str
        ``facility``: the nearest feature of a facility layer by walking time on the routing
        network (any class); ``segment``: the nearest road segment. Without a routing network
        both fall back to the nearest feature by straight-line distance.
    """

    layer: str
    kind: str


@dataclass(frozen=True)
class ServiceSpec:
    """One complaint service of the catalogue (an Open311 service).

    Parameters
    ----------
    code : str
        Open311 ``service_code``, stored on each complaint.
    name_id, name_en : str
        Names in Indonesian and English.
    description_id, description_en : str
        One line on what to report under it.
    group : str
        A key of the catalogue's groups (Open311 ``group``).
    agency : str
        Code of the responsible :class:`Agency`.
    sla_days : int
        Working days from receipt to resolution (the service level; Open311
        ``expected_datetime``).
    link : ServiceLink, optional
        The layer its complaints link to.
    attributes : tuple of AttributeSpec
        Extra questions (an Open311 service definition); empty: ``metadata`` is false.
    keywords : tuple of str
        Search words (Open311 ``keywords``).
    road_action : bool
        Whether staff may set the linked road segment's condition from a verified complaint
        (road damage, flooding).
    """

    code: str
    name_id: str
    name_en: str
    description_id: str
    description_en: str
    group: str
    agency: str
    sla_days: int
    link: ServiceLink | None = None
    attributes: tuple[AttributeSpec, ...] = ()
    keywords: tuple[str, ...] = ()
    road_action: bool = False

    def name(self, lang: str) -> str:
        """Return the service's name in ``lang``."""
        return _label((self.name_id, self.name_en), lang)

    def description(self, lang: str) -> str:
        """Return the service's description in ``lang``."""
        return _label((self.description_id, self.description_en), lang)

    def attribute(self, code: str) -> AttributeSpec | None:
        """Return the attribute ``code``, or None."""
        return next((a for a in self.attributes if a.code == code), None)


@dataclass(frozen=True)
class StateSpec:
    """A workflow state.

    Parameters
    ----------
    code : str
        Stored in ``complaint.state``.
    name_id, name_en : str
        Labels.
    open311 : str
        ``open`` or ``closed`` (Open311 ``status``).
    forwarded : bool
        Reaching it stops the 3-working-day forwarding clock.
    followed_up : bool
        Reaching it stops the 5-working-day follow-up clock.
    """

    code: str
    name_id: str
    name_en: str
    open311: str
    forwarded: bool = False
    followed_up: bool = False

    def name(self, lang: str) -> str:
        """Return the state's label in ``lang``."""
        return _label((self.name_id, self.name_en), lang)

    @property
    def closed(self) -> bool:
        """Whether a complaint in this state is closed (``closed_at`` is set)."""
        return self.open311 == "closed"


@dataclass(frozen=True)
class Transition:
    """A move the workflow allows, and who may make it.

    Parameters
    ----------
    source, target : str
        State codes.
    roles : tuple of str
        Staff roles that may make it; :data:`AGENCY_ROLE` stands for the roles of the
        complaint's agency.
    note_required : bool
        The staff member must say why (rejections, reopening).
    """

    source: str
    target: str
    roles: tuple[str, ...]
    note_required: bool = False

    def allows(self, role: str, agency: Agency | None) -> bool:
        """Tell whether ``role`` may make this move on a complaint of ``agency``."""
        if role in self.roles:
            return True
        return AGENCY_ROLE in self.roles and agency is not None and role in agency.roles


@dataclass(frozen=True)
class Catalogue:
    """The whole catalogue: one version of agencies, services, states and transitions."""

    version: str
    groups: Mapping[str, tuple[str, str]]
    agencies: Mapping[str, Agency]
    services: Mapping[str, ServiceSpec]
    states: Mapping[str, StateSpec]
    initial_state: str
    transitions: tuple[Transition, ...]
    roles: tuple[str, ...]
    channels: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def transition(self, source: str, target: str) -> Transition | None:
        """Return the transition from ``source`` to ``target``, or None if not allowed."""
        return next(
            (t for t in self.transitions if t.source == source and t.target == target), None
        )

    def transitions_from(self, source: str) -> tuple[Transition, ...]:
        """Return the transitions leaving ``source``, in table order."""
        return tuple(t for t in self.transitions if t.source == source)


def _check_services(cat: Catalogue, layers: Mapping[str, Any]) -> None:
    for code, svc in cat.services.items():
        where = f"service {code!r}"
        if code != svc.code:
            msg = f"{where} is registered as {code!r} but its code is {svc.code!r}"
            raise ValueError(msg)
        if svc.group not in cat.groups:
            msg = f"{where}: unknown group {svc.group!r}"
            raise ValueError(msg)
        if svc.agency not in cat.agencies:
            msg = f"{where}: unknown agency {svc.agency!r}"
            raise ValueError(msg)
        if not 1 <= svc.sla_days <= 60:
            msg = f"{where}: sla_days must be 1 to 60 working days"
            raise ValueError(msg)
        if svc.link is not None:
            spec = layers.get(svc.link.layer)
            if spec is None:
                msg = f"{where}: links to unknown layer {svc.link.layer!r}"
                raise ValueError(msg)
            if svc.link.kind not in LINK_KINDS:
                msg = f"{where}: unknown link kind {svc.link.kind!r}"
                raise ValueError(msg)
            if svc.link.kind == "facility" and not spec.facility:
                msg = f"{where}: layer {spec.name!r} is not a facility layer"
                raise ValueError(msg)
            if svc.link.kind == "segment" and spec.name != "road_segment":
                msg = f"{where}: a segment link needs the road_segment layer"
                raise ValueError(msg)
        if svc.road_action and (svc.link is None or svc.link.kind != "segment"):
            msg = f"{where}: a road action needs a link to road segments"
            raise ValueError(msg)
        codes = [a.code for a in svc.attributes]
        if len(set(codes)) != len(codes):
            msg = f"{where}: an attribute code is listed twice"
            raise ValueError(msg)
        for a in svc.attributes:
            _check_attribute(where, a)


def _check_attribute(where: str, a: AttributeSpec) -> None:
    where = f"{where}, attribute {a.code!r}"
    if a.datatype not in ATTRIBUTE_DATATYPES:
        msg = f"{where}: unknown datatype {a.datatype!r}"
        raise ValueError(msg)
    is_list = a.datatype in ("singlevaluelist", "multivaluelist")
    if is_list != bool(a.values):
        msg = f"{where}: list datatypes, and only they, have values"
        raise ValueError(msg)
    if len(set(a.keys)) != len(a.keys):
        msg = f"{where}: a value key is listed twice"
        raise ValueError(msg)
    if not a.code.replace("_", "").isalnum():
        msg = f"{where}: codes are letters, digits and underscores"
        raise ValueError(msg)


def check_catalogue(cat: Catalogue, layers: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` if the catalogue is inconsistent.

    Checks that every service names a known group and agency, a sane service level and an
    existing layer of the right kind; that attributes are well formed; that every agency's
    roles are staff roles; that the states map to Open311's ``open``/``closed``; that every
    transition joins two known states, names known roles (or the agency pseudo-role) and
    that every state is reachable from the initial one.

    Parameters
    ----------
    cat : Catalogue
        The catalogue to check.
    layers : mapping of str to LayerSpec
        The layer registry (:data:`layers.registry.LAYERS`).

    Raises
    ------
    ValueError
        Naming the service, state or transition and what is wrong.
    """
    if not cat.version:
        msg = "the catalogue needs a version"
        raise ValueError(msg)
    _check_services(cat, layers)
    for code, agency in cat.agencies.items():
        if code != agency.code or not set(agency.roles) <= set(cat.roles):
            msg = f"agency {code!r}: wrong code or unknown roles {agency.roles}"
            raise ValueError(msg)
    for code, state in cat.states.items():
        if code != state.code or state.open311 not in OPEN311_STATUSES:
            msg = f"state {code!r}: wrong code or Open311 status {state.open311!r}"
            raise ValueError(msg)
    if cat.initial_state not in cat.states or cat.states[cat.initial_state].closed:
        msg = f"initial state {cat.initial_state!r} must be a known open state"
        raise ValueError(msg)
    seen: set[tuple[str, str]] = set()
    for t in cat.transitions:
        where = f"transition {t.source!r} -> {t.target!r}"
        if t.source not in cat.states or t.target not in cat.states or t.source == t.target:
            msg = f"{where}: unknown or identical states"
            raise ValueError(msg)
        if (t.source, t.target) in seen:
            msg = f"{where}: listed twice"
            raise ValueError(msg)
        seen.add((t.source, t.target))
        if not t.roles or not set(t.roles) <= {*cat.roles, AGENCY_ROLE}:
            msg = f"{where}: unknown roles {t.roles}"
            raise ValueError(msg)
    reached, todo = {cat.initial_state}, [cat.initial_state]
    while todo:
        for t in cat.transitions_from(todo.pop()):
            if t.target not in reached:
                reached.add(t.target)
                todo.append(t.target)
    if reached != set(cat.states):
        msg = f"states {sorted(set(cat.states) - reached)} cannot be reached"
        raise ValueError(msg)

"""The complaint catalogue and workflow, as data: services, agencies, states, transitions.

Every channel (the web form, Open311 and the help desk), the staff workflow, the Open311
``services`` answers and the performance figures read this one module. What its entries may
hold is defined in :mod:`layers.complaint_spec`; :func:`layers.complaint_spec.check_catalogue`
checks it when the layer registry is imported (``layers.registry``, which links services to layers).

Versioning: :data:`CATALOGUE_VERSION` changes whenever a service, a service level, a state or
a transition changes; each complaint stores the version it was filed under. Adding a service
is one :class:`ServiceSpec` here. Adding a **state** or a **channel** also needs a migration,
because the database checks ``complaint.state`` and ``complaint.channel`` (see
``migrations/versions/0005_*``).

Service levels follow SP4N-LAPOR!: a complaint is forwarded to the responsible agency within
3 working days (:data:`FORWARD_DAYS`) and followed up within 5 (:data:`FOLLOW_UP_DAYS`); each
service has its own resolution level in working days (``sla_days``). Working days come from
:mod:`services.calendar`.

The workflow::

    diterima ──> diverifikasi ──> diteruskan ──> dalam_proses ──> selesai
       │  │          │  │  ^            │                           │
       │  │          │  │  └────────────┘ (returned: wrong agency)  │
       │  └──────────┼──┴──> ditolak, duplikat                      │
       └─────────────┘                    dalam_proses <────────────┘ (reopened)

Desk officers (``desk``) verify, forward, reject and mark duplicates; the agency's own staff
(``sanitation`` for DLH, ``roads`` for DPUPR and Dishub) start and finish the work;
``admin`` may do everything; ``planner`` only reads.
"""

from __future__ import annotations

from layers.complaint_spec import (
    AGENCY_ROLE,
    Agency,
    AttributeSpec,
    AttributeValue,
    Catalogue,
    ServiceLink,
    ServiceSpec,
    StateSpec,
    Transition,
)

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "CHANNELS",
    "CONTACT_ROLES",
    "EVENT_KINDS",
    "FOLLOW_UP_DAYS",
    "FORWARD_DAYS",
    "INITIAL_STATE",
    "ROAD_ACTION_ROLES",
    "ROAD_ACTION_STATES",
    "STAFF_ROLES",
    "STATES",
    "get_service",
    "role_may",
]

#: Changes with every change of services, service levels, states or transitions.
CATALOGUE_VERSION = "2026.12-1"

#: Working days to forward a complaint to its agency, and to follow it up (SP4N-LAPOR!).
FORWARD_DAYS = 3
FOLLOW_UP_DAYS = 5

#: Staff roles. ``admin`` manages everything, ``desk`` is the help desk (intake, verification,
#: forwarding), ``sanitation`` and ``roads`` work for their agencies, ``planner`` reads.
STAFF_ROLES: tuple[str, ...] = ("admin", "desk", "sanitation", "roads", "planner")

#: How a complaint arrived. ``open311`` is a third-party client with an API key.
CHANNELS: tuple[str, ...] = ("web", "phone", "desk", "open311")

#: What a ``complaint_event`` records: the intake, a state change, a road condition set from
#: the complaint, and that condition restored.
EVENT_KINDS: tuple[str, ...] = ("created", "transition", "road_condition", "road_restored")

GROUPS: dict[str, tuple[str, str]] = {
    "kebersihan": ("Kebersihan", "Cleanliness"),
    "infrastruktur": ("Infrastruktur", "Infrastructure"),
    "pelayanan_publik": ("Pelayanan publik", "Public service"),
    "lainnya": ("Lainnya", "Other"),
}

AGENCIES: dict[str, Agency] = {
    a.code: a
    for a in (
        Agency("dlh", "Dinas Lingkungan Hidup", "Environment Agency", ("sanitation",)),
        Agency(
            "dpupr",
            "Dinas Pekerjaan Umum dan Penataan Ruang",
            "Public Works and Spatial Planning Agency",
            ("roads",),
        ),
        Agency("dishub", "Dinas Perhubungan", "Transport Agency", ("roads",)),
        Agency("inspektorat", "Inspektorat Daerah", "Regional Inspectorate", ("desk",)),
        Agency("setda", "Sekretariat Daerah", "Regional Secretariat", ("desk",)),
    )
}

_SEVERITY = AttributeSpec(
    "tingkat_kerusakan",
    "singlevaluelist",
    "Seberapa parah kerusakannya?",
    "How bad is the damage?",
    values=(
        AttributeValue("ringan", "Ringan (retak, lubang kecil)", "Light (cracks, small holes)"),
        AttributeValue("berat", "Berat (lubang besar, amblas)", "Heavy (large holes, sinking)"),
        AttributeValue(
            "tidak_dapat_dilalui", "Tidak dapat dilalui kendaraan", "Impassable for vehicles"
        ),
    ),
)

SERVICES: dict[str, ServiceSpec] = {
    s.code: s
    for s in (
        ServiceSpec(
            code="sampah",
            name_id="Sampah",
            name_en="Waste",
            description_id="Tempat sampah penuh, sampah tidak diangkut, atau pembuangan liar.",
            description_en="A full bin, waste not collected, or illegal dumping.",
            group="kebersihan",
            agency="dlh",
            sla_days=3,
            link=ServiceLink("waste_bin", "facility"),
            attributes=(
                AttributeSpec(
                    "masalah",
                    "singlevaluelist",
                    "Apa masalahnya?",
                    "What is the problem?",
                    values=(
                        AttributeValue("penuh", "Tempat sampah penuh", "Bin full"),
                        AttributeValue("tidak_diangkut", "Tidak diangkut", "Not collected"),
                        AttributeValue("liar", "Pembuangan liar", "Illegal dumping"),
                    ),
                ),
            ),
            keywords=("sampah", "tempat sampah", "TPS", "waste", "bin", "garbage"),
        ),
        ServiceSpec(
            code="jalan_rusak",
            name_id="Jalan rusak",
            name_en="Road damage",
            description_id="Jalan berlubang, retak, amblas atau tidak dapat dilalui.",
            description_en="A road with potholes, cracks, subsidence, or impassable.",
            group="infrastruktur",
            agency="dpupr",
            sla_days=10,
            link=ServiceLink("road_segment", "segment"),
            attributes=(_SEVERITY,),
            keywords=("jalan", "lubang", "road", "pothole"),
            road_action=True,
        ),
        ServiceSpec(
            code="banjir",
            name_id="Banjir / genangan",
            name_en="Flooding",
            description_id="Banjir atau genangan air di jalan.",
            description_en="Flooding or standing water on a road.",
            group="infrastruktur",
            agency="dpupr",
            sla_days=3,
            link=ServiceLink("road_segment", "segment"),
            attributes=(
                AttributeSpec(
                    "kedalaman_cm",
                    "number",
                    "Perkiraan kedalaman air (cm)",
                    "Estimated water depth (cm)",
                    minimum=0,
                    maximum=500,
                ),
            ),
            keywords=("banjir", "genangan", "flood", "water"),
            road_action=True,
        ),
        ServiceSpec(
            code="lampu_jalan",
            name_id="Lampu jalan",
            name_en="Street light",
            description_id="Lampu penerangan jalan umum (PJU) mati atau rusak.",
            description_en="A street light out or broken.",
            group="infrastruktur",
            agency="dishub",
            sla_days=5,
            attributes=(
                AttributeSpec(
                    "nomor_tiang",
                    "string",
                    "Nomor tiang, jika terlihat",
                    "Pole number, if visible",
                    max_length=32,
                ),
            ),
            keywords=("lampu", "PJU", "street light", "lamp"),
        ),
        ServiceSpec(
            code="drainase",
            name_id="Drainase",
            name_en="Drainage",
            description_id="Saluran air tersumbat, rusak atau meluap.",
            description_en="A drain blocked, broken or overflowing.",
            group="infrastruktur",
            agency="dpupr",
            sla_days=7,
            keywords=("drainase", "got", "selokan", "drain", "gutter"),
        ),
        ServiceSpec(
            code="pelayanan_kantor",
            name_id="Pelayanan kantor",
            name_en="Service at an office",
            description_id="Pelayanan di kantor layanan publik: antrean, petugas, biaya, info.",
            description_en="Service at a public office: queues, staff, fees, information.",
            group="pelayanan_publik",
            agency="inspektorat",
            sla_days=5,
            link=ServiceLink("office", "facility"),
            attributes=(
                AttributeSpec(
                    "aspek",
                    "singlevaluelist",
                    "Tentang apa?",
                    "About what?",
                    values=(
                        AttributeValue("antrean", "Antrean / waktu tunggu", "Queue / waiting"),
                        AttributeValue("petugas", "Sikap petugas", "Staff conduct"),
                        AttributeValue("biaya", "Biaya / pungutan", "Fees / charges"),
                        AttributeValue("informasi", "Informasi / persyaratan", "Information"),
                    ),
                ),
            ),
            keywords=("kantor", "pelayanan", "office", "service"),
        ),
        ServiceSpec(
            code="lainnya",
            name_id="Lainnya",
            name_en="Other",
            description_id="Masalah lain yang menjadi urusan pemerintah daerah.",
            description_en="Any other matter for the local government.",
            group="lainnya",
            agency="setda",
            sla_days=5,
            keywords=("lainnya", "other"),
        ),
    )
}

STATES: dict[str, StateSpec] = {
    s.code: s
    for s in (
        StateSpec("diterima", "Diterima", "Received", "open"),
        StateSpec("diverifikasi", "Diverifikasi", "Verified", "open"),
        StateSpec("diteruskan", "Diteruskan ke dinas", "Forwarded", "open", forwarded=True),
        StateSpec(
            "dalam_proses", "Dalam proses", "In progress", "open", forwarded=True, followed_up=True
        ),
        StateSpec("selesai", "Selesai", "Resolved", "closed", forwarded=True, followed_up=True),
        StateSpec("ditolak", "Ditolak", "Rejected", "closed", forwarded=True, followed_up=True),
        StateSpec("duplikat", "Duplikat", "Duplicate", "closed", forwarded=True, followed_up=True),
    )
}

INITIAL_STATE = "diterima"
_DESK = ("desk", "admin")
_AGENCY = (AGENCY_ROLE, "admin")

#: Who may see a reporter's contact details (each view is logged in ``contact_view``): the
#: help desk, administrators and the staff of the complaint's agency; never planners.
CONTACT_ROLES: tuple[str, ...] = ("desk", "admin", AGENCY_ROLE)
#: Who may set a road's condition from a verified road report, and in which states.
ROAD_ACTION_ROLES: tuple[str, ...] = (AGENCY_ROLE, "admin")
ROAD_ACTION_STATES: tuple[str, ...] = ("diverifikasi", "diteruskan", "dalam_proses")

TRANSITIONS: tuple[Transition, ...] = (
    Transition("diterima", "diverifikasi", _DESK),
    Transition("diterima", "ditolak", _DESK, note_required=True),
    Transition("diterima", "duplikat", _DESK),
    Transition("diverifikasi", "diteruskan", _DESK),
    Transition("diverifikasi", "ditolak", _DESK, note_required=True),
    Transition("diverifikasi", "duplikat", _DESK),
    Transition("diteruskan", "dalam_proses", _AGENCY),
    Transition("diteruskan", "diverifikasi", _AGENCY, note_required=True),
    Transition("diteruskan", "selesai", _AGENCY),
    Transition("dalam_proses", "selesai", _AGENCY),
    Transition("selesai", "dalam_proses", _DESK, note_required=True),
)

CATALOGUE = Catalogue(
    version=CATALOGUE_VERSION,
    groups=GROUPS,
    agencies=AGENCIES,
    services=SERVICES,
    states=STATES,
    initial_state=INITIAL_STATE,
    transitions=TRANSITIONS,
    roles=STAFF_ROLES,
    channels=CHANNELS,
)


def get_service(code: str) -> ServiceSpec | None:
    """Return the service ``code`` of the catalogue, or None."""
    return SERVICES.get(code)


def role_may(roles: tuple[str, ...], role: str, agency_code: str | None) -> bool:
    """Tell whether staff ``role`` is among ``roles`` for a complaint of ``agency_code``.

    ``roles`` may hold :data:`layers.complaint_spec.AGENCY_ROLE`, which stands for the
    staff roles of the complaint's agency.
    """
    if role in roles:
        return True
    agency = AGENCIES.get(agency_code or "")
    return AGENCY_ROLE in roles and agency is not None and role in agency.roles


if not set(ROAD_ACTION_STATES) <= set(STATES):
    raise ValueError("ROAD_ACTION_STATES names unknown states")

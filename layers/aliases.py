"""The column names and values an input file may use for SIGAP's fields (the mapping table).

A city's spreadsheet calls a name ``nama`` or ``nama_tps``, a category ``jenis`` or
``kategori``, a population ``jumlah_penduduk``. ``sigap ingest file`` maps a file's columns to a
layer's fields by these tables; ``--map field=column`` overrides them. Column names are compared
in lower case with spaces, hyphens and dots as ``_`` (``Unique Key`` is ``unique_key``).

For each field of a layer, the first of these that is a column of the file wins:

1. a column with the field's own name;
2. the field's :attr:`~layers.spec.FieldSpec.aliases`;
3. :data:`FIELD_ALIASES` of the field's name;
4. for the layer's class field, :data:`CLASS_ALIASES`.

Open311 GeoReport v2 names (``service_request_id``, ``service_code``, ``service_name``,
``description``, ``status``, ``requested_datetime``, ``address``, ``lat``, ``long``) are in the
tables, so an export of another city's Open311 server loads as it is.

README.md ("Loading a city's own files") prints these tables; ``tests/layers/test_aliases.py``
checks that it does.
"""

from __future__ import annotations

import re

#: Field name -> column names that mean it, in order of preference.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("nama", "name", "nama_tps", "nama_kantor", "nama_fasilitas", "nama_jalan", "namobj"),
    "address": ("alamat", "address", "incident_address", "lokasi", "location", "alamat_lengkap"),
    "phone": ("telepon", "phone", "telp", "no_telp", "no_telepon", "nomor_telepon"),
    "capacity_l": ("kapasitas", "capacity", "kapasitas_l", "capacity_l"),
    "population": ("penduduk", "jumlah_penduduk", "population", "jml_penduduk"),
    "code": ("kode", "code", "kode_bps", "kode_wilayah", "kode_kemendagri"),
    "admin_level": ("tingkat", "admin_level"),
    "opening_hours": ("jam_buka", "jam_layanan", "opening_hours"),
    "highway": ("highway", "kelas_jalan_osm"),
    "surface": ("surface", "permukaan", "jenis_perkerasan"),
    "oneway": ("oneway", "satu_arah"),
    "osm_way_id": ("osm_way_id", "way_id", "id_way"),
    "inspected_at": (
        "inspected_at",
        "tanggal_inspeksi",
        "tanggal_survei",
        "tgl_survei",
        "inspection_date",
        "tanggal",
        "date",
    ),
    # Open311 GeoReport v2, then common 311 exports (NYC, Boston), then Indonesian names
    "service_code": (
        "service_code",
        "service_name",
        "complaint_type",
        "type",
        "jenis_layanan",
        "kategori_layanan",
        "layanan",
    ),
    "description": ("description", "deskripsi", "keterangan", "uraian", "descriptor"),
    "status": ("status", "case_status", "status_laporan"),
    "requested_at": (
        "requested_datetime",
        "requested_at",
        "created_date",
        "open_dt",
        "tanggal_laporan",
    ),
}

#: Column names that mean a layer's class field (its category, kind or condition).
CLASS_ALIASES: tuple[str, ...] = (
    "jenis",
    "kategori",
    "category",
    "kondisi",
    "condition",
    "kelas_kondisi",
)

#: Column names of an id that identifies a row across versions of the file (``source_id``).
#: Besides these, the first column named ``id_...`` or ``..._id`` that no field took.
ID_ALIASES: tuple[str, ...] = (
    "service_request_id",
    "id",
    "fid",
    "objectid",
    "gid",
    "uid",
    "case_enquiry_id",
    "unique_key",
)

#: Columns of a point's latitude and longitude in a table, and of a WKT geometry.
LATITUDE_ALIASES: tuple[str, ...] = ("lat", "latitude", "lintang", "y")
LONGITUDE_ALIASES: tuple[str, ...] = ("lon", "lng", "long", "longitude", "bujur", "x")
WKT_ALIASES: tuple[str, ...] = ("wkt", "geometry", "geom", "the_geom", "geometri")

#: Field name -> value in a file -> the vocabulary value it means (after lower case, ``_``
#: for spaces). Values already in the vocabulary need no entry.
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "category": {
        "pemerintahan": "government",
        "kantor_pemerintahan": "government",
        "kelurahan": "government",
        "kantor_kelurahan": "government",
        "kecamatan": "government",
        "kantor_kecamatan": "government",
        "kesehatan": "health",
        "puskesmas": "health",
        "klinik": "health",
        "rumah_sakit": "health",
        "rs": "health",
        "polisi": "police",
        "polsek": "police",
        "polres": "police",
        "kantor_polisi": "police",
        "pos": "post",
        "kantor_pos": "post",
        "sekolah": "school",
        "pendidikan": "school",
        "perpustakaan": "library",
        "pemadam_kebakaran": "fire",
        "damkar": "fire",
        "pengadilan": "court",
    },
    "kind": {
        "tps": "waste_disposal",
        "tempat_pembuangan_sementara": "waste_disposal",
        "tempat_sampah": "waste_basket",
        "daur_ulang": "recycling",
        "bank_sampah": "recycling",
    },
    "condition": {
        "good": "baik",
        "fair": "sedang",
        "light_damage": "rusak_ringan",
        "poor": "rusak_ringan",
        "heavy_damage": "rusak_berat",
        "bad": "rusak_berat",
        "rusak": "rusak_berat",
        "impassable": "tidak_dapat_dilalui",
        "putus": "tidak_dapat_dilalui",
    },
    "status": {
        "new": "open",
        "baru": "open",
        "pending": "open",
        "assigned": "acknowledged",
        "diterima": "acknowledged",
        "started": "in_progress",
        "diproses": "in_progress",
        "proses": "in_progress",
        "selesai": "closed",
        "ditolak": "rejected",
    },
}


def normalize(name: str) -> str:
    """Return a column name or value as the tables compare it: lower case, ``_`` for gaps.

    Parameters
    ----------
    name : str
        A column name or a value, as the file has it.

    Returns
    -------
    str
        Stripped, lower case, with runs of spaces, hyphens, dots and slashes as one ``_``
        (``"Unique Key"`` -> ``"unique_key"``, ``"Rusak Berat"`` -> ``"rusak_berat"``).
    """
    return re.sub(r"[\s\-./]+", "_", str(name).strip().lower()).strip("_")

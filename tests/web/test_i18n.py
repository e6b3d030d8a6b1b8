"""Every user-facing string of the web layer has an Indonesian translation, compiled."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from gis.settings import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"
PO = WEB / "translations" / "id" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def _source_messages() -> set[str]:
    with open(WEB / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_source_string_is_translated_to_indonesian():
    with open(PO, "rb") as fh:
        catalog = read_po(fh)
    messages = _source_messages()
    assert len(messages) > 50
    missing = [m for m in messages if not catalog.get(m) or not catalog.get(m).string]
    assert missing == []
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []


def test_compiled_catalog_matches_the_po_file():
    with open(PO, "rb") as fh:
        po = {m.id: m.string for m in read_po(fh) if m.id}
    with open(MO, "rb") as fh:
        mo = {m.id: m.string for m in read_mo(fh) if m.id}
    assert mo == po, "run: .venv/bin/pybabel compile -d web/translations"


def test_placeholders_survive_translation():
    import re

    with open(PO, "rb") as fh:
        for m in read_po(fh):
            if m.id:
                assert sorted(re.findall(r"%\(\w+\)s", m.id)) == sorted(
                    re.findall(r"%\(\w+\)s", m.string)
                ), m.id

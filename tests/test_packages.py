"""Package boundaries: no cycles between SIGAP's packages, and no Flask outside ``web``.

The allowed direction is ``layers`` <- ``gis`` <- ``ingest`` <- ``services`` <- ``web`` <- ``cli``
(each may import those to its left; ``web`` does not import ``ingest`` yet but may).
``services`` holds the Flask-free services (complaints, calendar, accounts) that the web, the
Open311 API and the command line share. Checked twice: by
importing every module of a package in a fresh interpreter and looking at ``sys.modules``, and
by reading every import statement, including those inside functions, which an import alone
does not run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from gis.settings import PROJECT_ROOT

#: Package -> the project packages (and Flask) it must never import.
FORBIDDEN = {
    "layers": {"gis", "ingest", "services", "web", "cli", "flask"},
    "gis": {"ingest", "services", "web", "cli", "flask"},
    "ingest": {"services", "web", "cli", "flask"},
    "services": {"web", "cli", "flask", "flask_login", "werkzeug"},
    "web": {"cli"},
    "cli": set(),
}

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
pkg = importlib.import_module({name!r})
for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


@pytest.mark.parametrize("package", [p for p in FORBIDDEN if p != "cli"])
def test_importing_a_package_loads_none_it_must_not_use(package):
    code = _IMPORT_ALL.format(name=package)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert package in loaded
    assert not loaded & FORBIDDEN[package], f"{package} imports {loaded & FORBIDDEN[package]}"


def _imported_packages(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", FORBIDDEN)
def test_no_module_imports_a_forbidden_package_even_inside_a_function(package):
    files = sorted((PROJECT_ROOT / package).rglob("*.py"))
    assert files
    bad = {
        str(f.relative_to(PROJECT_ROOT)): sorted(_imported_packages(f) & FORBIDDEN[package])
        for f in files
        if "node_modules" not in f.parts and _imported_packages(f) & FORBIDDEN[package]
    }
    assert not bad

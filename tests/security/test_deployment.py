"""Findings 14 and 15, checked by reading what ships: the image runs as an unprivileged
user, compose publishes warroom on loopback only and takes its credentials from .env, serve
listens on loopback by default; every package the code imports is declared, the floors
leave out versions with known security fixes missing, and CI and the image install the
exact versions of constraints.txt."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
FLOORS = {"jinja2": "3.1.6", "aiohttp": "3.13.4", "starlette": "0.49.1", "h11": "0.16.0"}


def declared() -> dict[str, Requirement]:
    text = (ROOT / "pyproject.toml").read_text()
    block = text.split("dependencies = [", 1)[1].split("]\n", 1)[0]
    names = re.findall(r'"([^"]+)"', block)
    return {Requirement(n).name.lower(): Requirement(n) for n in names}


def test_the_image_runs_unprivileged_and_installs_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "-c constraints.txt" in dockerfile
    assert "-c constraints.txt" in (ROOT / ".ci" / "run").read_text()


def test_compose_binds_loopback_and_hard_codes_no_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert "ports" not in services["postgres"]
    for port in services["warroom"]["ports"]:
        assert port.startswith("${WARROOM_BIND:-127.0.0.1}:"), port
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert not re.search(r"postgresql://\w+:\w+@", text)  # no literal user:password in a URL


def test_serve_listens_on_loopback_unless_told() -> None:
    assert Settings(_env_file=None).host == "127.0.0.1"  # type: ignore[call-arg]


def test_every_imported_package_is_declared() -> None:
    imported: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"bot", "__future__"}
    providers = metadata.packages_distributions()
    names = set(declared())
    missing = {
        module
        for module in third_party
        if not {d.lower().replace("_", "-") for d in providers.get(module, [])} & names
    }
    assert missing == set(), f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_floors_leave_out_known_security_fixes() -> None:
    requirements = declared()
    for name, floor in FLOORS.items():
        assert name in requirements, name
        assert not requirements[name].specifier.contains(
            Version(floor).__str__().replace(floor, _before(floor))
        ), name
        assert Version(metadata.version(name)) >= Version(floor)


def _before(version: str) -> str:
    """A version just below `version` (3.1.6 -> 3.1.5)."""
    parts = [int(p) for p in version.split(".")]
    parts[-1] -= 1
    return ".".join(str(p) for p in parts)


def test_constraints_pin_every_dependency() -> None:
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[name.lower().replace("_", "-")] = version
    for name in declared():
        assert name.replace("_", "-") in pinned, f"{name} is not pinned in constraints.txt"

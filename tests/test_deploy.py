"""docker-compose.yml cannot run here (no Docker engine); its structure and files are checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cti.config import load

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_asterisk_postgres_and_cti() -> None:
    services = compose()["services"]
    assert set(services) == {"asterisk", "postgres", "cti"}
    assert services["cti"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_mounted_file_exists() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_cti_image_builds_from_the_repository() -> None:
    cti = compose()["services"]["cti"]
    assert cti["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_compose_configuration_is_valid_for_cti() -> None:
    config = load(ROOT / "deploy/cti.toml", {"CTI_PBX_MAIN_SECRET": "x"})
    assert config.pbx[0].host == "asterisk"
    assert config.database.url.startswith("postgresql+asyncpg://")


def test_no_secret_is_committed_in_the_compose_files() -> None:
    manager = (ROOT / "deploy/asterisk/manager.conf").read_text()
    assert "secret =" not in manager
    env = compose()["services"]["cti"]["environment"]
    assert env["CTI_PBX_MAIN_SECRET"] == "${CTI_PBX_MAIN_SECRET}"

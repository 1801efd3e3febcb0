"""docker-compose.yml agrees with the code: commands, settings, ports, users and Grafana provisioning.

Docker is not available where the suite runs, so the stack is checked by construction: every command a
container runs parses as a `glassbox` command, every GLASSBOX_* variable is a setting (and its value
validates), ports and hosts line up between services, and Grafana's provisioning points at files and a
data source uid that exist.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer
import yaml

from glassbox.cli.main import _register, app
from glassbox.common.settings import ALL_SECTIONS
from glassbox.dashboards.generate import DASHBOARDS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
GLASSBOX = {name: s for name, s in SERVICES.items() if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}
ONE_SHOT = {"topics", "migrate"}
EXTRA_VARIABLES = {"GLASSBOX_LOG_LEVEL", "GLASSBOX_LOG_FORMAT"}
"""Read by glassbox.common.logging.configure, not a settings class."""
_DEFAULT = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")


def _value(raw: Any) -> str:
    """A compose value with ${VAR:-default} replaced by its default."""
    return _DEFAULT.sub(lambda m: m.group(1), str(raw))


def _env(service: str) -> dict[str, str]:
    return {k: _value(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def _setting_names() -> dict[str, Any]:
    out = {}
    for cls in ALL_SECTIONS:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name in cls.model_fields:
            out[f"{prefix}{name}".upper()] = cls
    return out


def _command(args: list[str]) -> list[str]:
    """Resolve ``glassbox ARGS`` like the CLI does and parse the options; returns the command path."""
    if not app.registered_commands:
        _register()
    group: Any = typer.main.get_command(app)
    ctx = group.context_class(group, info_name="glassbox")
    command: Any = group
    path: list[str] = []
    while hasattr(command, "resolve_command"):  # a group (typer ships its own click)
        name, command, args = command.resolve_command(ctx, args)
        assert command is not None, f"no command {name!r}"
        path.append(str(name))
    command.make_context(path[-1], list(args), parent=ctx)
    return path


def test_glassbox_services_are_the_pipeline() -> None:
    """One image runs the one-shot jobs and the long-running services."""
    assert set(GLASSBOX) == {"topics", "migrate", "assembler", "sink", "evaluator"}
    assert {s["image"] for s in GLASSBOX.values()} == {"glassbox:${GLASSBOX_VERSION:-latest}"}


@pytest.mark.parametrize("service", sorted(GLASSBOX))
def test_every_command_is_a_real_cli_command(service: str) -> None:
    """The container's command (and health check) parse as `glassbox` commands with their options."""
    spec = GLASSBOX[service]
    assert _command(list(spec["command"])) == [spec["command"][0]]
    test = (spec.get("healthcheck") or {}).get("test")
    if test and test[0] == "CMD":
        assert test[1] == "glassbox"
        _command(list(test[2:]))


@pytest.mark.parametrize("service", sorted(GLASSBOX))
def test_every_glassbox_variable_is_a_setting_with_a_valid_value(service: str) -> None:
    """GLASSBOX_* names exist in the settings classes and their values (defaults substituted) validate."""
    names = _setting_names()
    env = {k: v for k, v in _env(service).items() if k.startswith("GLASSBOX_")}
    unknown = sorted(set(env) - set(names) - EXTRA_VARIABLES)
    assert unknown == [], f"not settings: {unknown}"
    for cls in {names[k] for k in env if k in names}:
        prefix = str(cls.model_config.get("env_prefix", ""))
        values = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix) and k in names}
        cls(**values)


def test_extra_variables_are_read_by_the_logging_setup() -> None:
    """The two non-settings variables are the ones glassbox.common.logging reads."""
    source = (ROOT / "services" / "glassbox" / "common" / "logging.py").read_text()
    for name in EXTRA_VARIABLES:
        assert f'"{name}"' in source


def test_clickhouse_url_and_kafka_bootstrap_point_at_the_services() -> None:
    """http://clickhouse:8123 is ClickHouse's HTTP port; kafka:9092 is an advertised listener Kafka listens on."""
    env = _env("sink")
    url = urlparse(env["GLASSBOX_CLICKHOUSE_URL"])
    config = ET.parse(ROOT / "deploy" / "clickhouse" / "config.d" / "glassbox.xml").getroot()
    assert (url.scheme, url.hostname, url.port) == ("http", "clickhouse", int(config.findtext("http_port") or 0))
    assert any(p.endswith(f":{url.port}") for p in SERVICES["clickhouse"]["ports"])
    kafka = _env("kafka")
    host, port = env["GLASSBOX_KAFKA_BOOTSTRAP_SERVERS"].split(":")
    assert f"PLAINTEXT://{host}:{port}" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert f"PLAINTEXT://:{port}" in kafka["KAFKA_LISTENERS"].split(",")
    external = [x for x in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",") if x.startswith("EXTERNAL://")]
    assert external and any(p.startswith(external[0].rsplit(":", 1)[1] + ":") for p in SERVICES["kafka"]["ports"])


def test_clickhouse_users_match_the_settings_and_the_reader_is_read_only() -> None:
    """The writer and reader users exist; the reader's profile is readonly=1 with max_execution_time changeable."""
    users = ET.parse(ROOT / "deploy" / "clickhouse" / "users.d" / "glassbox.xml").getroot()
    env = _env("sink")
    writer, reader = env["GLASSBOX_CLICKHOUSE_USERNAME"], env["GLASSBOX_CLICKHOUSE_READ_USERNAME"]
    assert users.find(f"users/{writer}") is not None and users.find(f"users/{reader}") is not None
    profile = users.findtext(f"users/{reader}/profile")
    assert users.findtext(f"profiles/{profile}/readonly") == "1"
    assert users.find(f"profiles/{profile}/constraints/max_execution_time/changeable_in_readonly") is not None
    assert users.findtext(f"users/{reader}/grants/query") == f"GRANT SELECT ON {env['GLASSBOX_CLICKHOUSE_DATABASE']}.*"
    for user, key in ((writer, "GLASSBOX_CLICKHOUSE_PASSWORD"), (reader, "GLASSBOX_CLICKHOUSE_READ_PASSWORD")):
        variable = str(users.find(f"users/{user}/password").get("from_env"))  # type: ignore[union-attr]
        assert _env("clickhouse")[variable] == env[key], f"{user}'s password differs between services"


def _provisioning(kind: str) -> dict[str, Any]:
    (path,) = (ROOT / "deploy" / "grafana" / "provisioning" / kind).glob("*.yaml")
    return yaml.safe_load(path.read_text())


def test_grafana_data_source_is_the_read_only_clickhouse_user() -> None:
    """The provisioned data source reaches ClickHouse's HTTP port as the reader, with its password variable set."""
    (source,) = _provisioning("datasources")["datasources"]
    env = _env("sink")
    assert source["type"] == "grafana-clickhouse-datasource"
    data = source["jsonData"]
    assert (data["host"], data["port"], data["protocol"]) == ("clickhouse", 8123, "http")
    assert data["username"] == env["GLASSBOX_CLICKHOUSE_READ_USERNAME"]
    assert data["defaultDatabase"] == env["GLASSBOX_CLICKHOUSE_DATABASE"] == data["traces"]["defaultDatabase"]
    variable = source["secureJsonData"]["password"].lstrip("$").strip("{}")
    assert _env("grafana")[variable] == env["GLASSBOX_CLICKHOUSE_READ_PASSWORD"]
    assert "grafana-clickhouse-datasource" in _env("grafana")["GF_INSTALL_PLUGINS"]


def test_grafana_dashboards_provider_reads_the_generated_dashboards_on_the_provisioned_uid() -> None:
    """The provider path is where deploy/grafana/dashboards is mounted; every dashboard uses the data source's uid."""
    (provider,) = _provisioning("dashboards")["providers"]
    mounts = dict(v.split(":")[:2][::-1] for v in SERVICES["grafana"]["volumes"] if v.startswith("./"))
    source = mounts[provider["options"]["path"]]
    directory = ROOT / source
    assert sorted(p.stem for p in directory.glob("*.json")) == sorted(DASHBOARDS)
    (datasource,) = _provisioning("datasources")["datasources"]
    for path in directory.glob("*.json"):
        text = path.read_text()
        uids = set(re.findall(r'"uid": "([^"]+)"', text)) - {json.loads(text)["uid"]}
        assert uids == {datasource["uid"]}, f"{path.name} uses data source uids {uids}"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


def test_grafana_alert_rules_query_the_provisioned_data_source() -> None:
    """The alerting provisioning file's queries use the provisioned ClickHouse data source."""
    (datasource,) = _provisioning("datasources")["datasources"]
    (group,) = _provisioning("alerting")["groups"]
    assert group["rules"]
    for rule in group["rules"]:
        assert rule["data"][0]["datasourceUid"] == datasource["uid"]


def test_services_start_in_order_with_health_checks_and_restarts() -> None:
    """Jobs wait for healthy engines; services wait for the jobs; long-running ones have health checks."""
    assert SERVICES["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert SERVICES["migrate"]["depends_on"] == {"clickhouse": {"condition": "service_healthy"}}
    for name in ONE_SHOT:
        assert SERVICES[name]["restart"] == "on-failure"
    for name, spec in SERVICES.items():
        if name in ONE_SHOT:
            continue
        assert spec["restart"] == "unless-stopped", name
        assert spec["healthcheck"]["test"], name
        for dependency, condition in (spec.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else condition["condition"]
            assert condition["condition"] == wanted, f"{name} → {dependency}"
    for name in ("assembler", "sink", "evaluator"):
        assert SERVICES[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_volumes_exist() -> None:
    """Named volumes are declared; bind mounts point at files of the repository."""
    for spec in SERVICES.values():
        for volume in spec.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
            else:
                assert source in COMPOSE["volumes"], source


def test_dockerfile_installs_the_package_and_runs_glassbox() -> None:
    """python:3.11-slim, pip install ., entrypoint glassbox; every COPY source exists."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "pip install ." in text
    assert 'ENTRYPOINT ["glassbox"]' in text
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source

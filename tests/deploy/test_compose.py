"""docker-compose.yml, the Dockerfile and the environment names they use.

compose-spec.json is the Compose Specification JSON Schema as shipped by Debian bookworm's
docker-compose package (/usr/lib/python3/dist-packages/compose/config/compose_spec.json,
Apache-2.0), vendored so the check runs without that package.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.deploy._helpers import DEPLOY, PROMETHEUS, ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
PORTS = {"intake": 8001, "scoring": 8002, "handoff": 8003}
ENV_NAME = re.compile(r"\bLEADRELAY_[A-Z0-9_]*[A-Z0-9]\b")


def compose() -> Any:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# -- the file is valid Compose -------------------------------------------------------------


def test_compose_file_matches_the_compose_specification_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft201909Validator(schema).iter_errors(compose())
    ]
    assert not errors, "\n".join(errors)


def test_docker_compose_accepts_the_file() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip(
            "docker-compose not installed (apt-get install docker-compose); schema test covers it"
        )
    result = subprocess.run(
        [tool, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_stack_has_every_piece() -> None:
    pieces = {"kafka", "postgres", "intake", "scoring", "handoff"}
    pieces |= {"prometheus", "alertmanager", "grafana"}
    assert pieces <= set(compose()["services"])


# -- infrastructure -------------------------------------------------------------------------


def test_kafka_is_a_single_kraft_node_reachable_as_kafka_9092() -> None:
    kafka = compose()["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"] == "apache/kafka:3.9.0"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert "localhost:9092" in " ".join(kafka["healthcheck"]["test"])


def test_postgres_16_has_a_healthcheck_and_matches_the_database_url() -> None:
    services = compose()["services"]
    pg = services["postgres"]
    assert pg["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    url = services["intake"]["environment"]["LEADRELAY_DATABASE_URL"]
    env = pg["environment"]
    expected = (
        f"postgresql+asyncpg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{env['POSTGRES_DB']}"
    )
    assert url == expected


# -- the three services ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "port"), PORTS.items())
def test_each_service_runs_from_the_one_image_with_consistent_ports(name: str, port: int) -> None:
    svc = compose()["services"][name]
    env = svc["environment"]
    assert svc["build"] == "."
    assert svc["command"] == f"leadrelay serve {name}"
    assert env[f"LEADRELAY_{name.upper()}_PORT"] == str(port)
    assert env[f"LEADRELAY_{name.upper()}_HOST"] == "0.0.0.0"
    assert f"{port}:{port}" in svc["ports"]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])
    assert env["LEADRELAY_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


@pytest.mark.parametrize("name", PORTS)
def test_each_service_waits_for_a_healthy_database_and_broker(name: str) -> None:
    depends = compose()["services"][name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["kafka"]["condition"] == "service_healthy"


def test_prometheus_scrapes_each_service_at_its_compose_address() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
    for name, port in PORTS.items():
        assert jobs[name] == [f"{name}:{port}"]
    (am,) = config["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert "alertmanager" in compose()["services"]


def test_monitoring_containers_mount_the_deploy_configs() -> None:
    services = compose()["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in services["alertmanager"]["volumes"]
    assert (
        "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"
        in services["grafana"]["volumes"]
    )
    grafana_env = services["grafana"]["environment"]
    assert grafana_env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana_env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_bind_mounts_point_at_files_in_the_repo() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


# -- environment names ----------------------------------------------------------------------


def used_env_names() -> set[str]:
    files = [COMPOSE_FILE, *sorted((DEPLOY / "k8s").glob("*.yaml"))]
    return {n for f in files for n in ENV_NAME.findall(f.read_text())}


def documented_env_names() -> set[str]:
    return set(ENV_NAME.findall((DEPLOY / "ENVIRONMENT.md").read_text()))


def read_by_code(name: str, sources: dict[Path, str]) -> bool:
    """The code reads `name`: the literal anywhere, or a field named after its suffix in a
    settings.py (the service's own for LEADRELAY_<SERVICE>_*, or shared/'s)."""
    if any(name in text for text in sources.values()):
        return True
    scopes = [ROOT / "shared"]
    suffix = name.removeprefix("LEADRELAY_")
    for service in PORTS:
        if suffix.startswith(f"{service.upper()}_"):
            suffix = suffix.removeprefix(f"{service.upper()}_")
            scopes.append(ROOT / "services" / service)
    field = re.compile(rf"^\s+{suffix.lower()}\s*:", re.M)
    return any(
        path.name == "settings.py"
        and any(path.is_relative_to(s) for s in scopes)
        and field.search(text)
        for path, text in sources.items()
    )


def test_every_env_name_the_deployments_use_is_documented() -> None:
    used = used_env_names()
    assert used, "no LEADRELAY_* names found in docker-compose.yml or deploy/k8s"
    assert not used - documented_env_names(), "add these to deploy/ENVIRONMENT.md"


def test_every_env_name_the_deployments_use_is_read_by_the_code() -> None:
    files = [*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]
    if not any(p.name == "settings.py" for p in files):
        pytest.skip("no settings.py under services/ or shared/ yet")
    sources = {p: p.read_text() for p in files}
    unread = sorted(n for n in used_env_names() if not read_by_code(n, sources))
    assert not unread, f"set by the deployments but read by no code: {unread}"


# -- the image ------------------------------------------------------------------------------


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_builds_a_non_root_python_311_image_serving_intake_by_default() -> None:
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users, "no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^RUN pip install\b", text, re.M)
    assert re.search(
        r'^HEALTHCHECK .*\n?.*CMD \["python", "/usr/local/bin/leadrelay-healthcheck"\]', text, re.M
    )
    assert re.search(r'^CMD \["leadrelay", "serve", "intake"\]', text, re.M)


def test_dockerignore_keeps_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in ("pyproject.toml", "README.md", "services", "shared", "alembic.ini", "contracts"):
        assert needed not in patterns, f".dockerignore drops {needed}"
    assert ".venv" in patterns
    assert ".git" in patterns
    assert "!deploy/docker/healthcheck.py" in patterns


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "healthcheck", DEPLOY / "docker" / "healthcheck.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_healthcheck_finds_the_service_from_the_command_line() -> None:
    hc = load_healthcheck()
    assert hc.DEFAULT_PORTS == PORTS
    assert (
        hc.service_from_cmdline(
            ["/usr/local/bin/python", "/usr/local/bin/leadrelay", "serve", "handoff"]
        )
        == "handoff"
    )
    assert hc.service_from_cmdline(["leadrelay", "serve", "scoring", "--port", "9000"]) == "scoring"
    assert hc.service_from_cmdline(["python", "-m", "services.intake"]) == "intake"


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_image_healthcheck_passes_when_healthz_answers_and_fails_when_nothing_listens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hc = load_healthcheck()
    monkeypatch.setattr(hc, "pid1_cmdline", lambda: ["leadrelay", "serve", "scoring"])
    server = HTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("LEADRELAY_SCORING_PORT", str(server.server_address[1]))
        assert hc.main() == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert hc.main() == 1
    assert "/healthz" in capsys.readouterr().err
    assert sys.modules.get("healthcheck") is None

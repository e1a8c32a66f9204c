"""Static checks of the deployment files.

No Docker engine is needed: these tests read docker-compose.yml, the Dockerfile, the
Prometheus and Grafana files and the example integrations file, and hold them against
the code they deploy: the CLI's subcommands and options, the metric names the app
exposes, and the integrations schema.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_PROVIDER = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "intmon.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "intmon.json"
EXAMPLE_INTEGRATIONS = ROOT / "deploy" / "integrations.example.yaml"

SERVICES = {
    "postgres",
    "redis",
    "migrate",
    "apply",
    "scheduler",
    "worker",
    "metrics",
    "api",
    "mail-in",
    "prometheus",
    "grafana",
}
# The metric names the app exposes (intmon/metrics.py, the alerts stage's collector and
# the lead ledger's counter); the dashboard may use no other.
METRICS = frozenset(
    {
        "intmon_check_results_total",
        "intmon_check_duration_seconds_bucket",
        "intmon_integration_up",
        "intmon_schedule_lag_seconds_bucket",
        "intmon_queue_depth",
        "intmon_checks_skipped_total",
        "intmon_tls_certificate_expiry_timestamp_seconds",
        "intmon_incidents_open",
        "intmon_tickets",
        "intmon_tickets_sla_breached",
        "intmon_outbox_pending",
        "intmon_outbox_dead",
        "intmon_leads_total",
        "intmon_platform_outage",
        "intmon_checks_stale",
        "intmon_check_stale",
        "intmon_check_last_result_age_seconds",
        "intmon_uptime_ratio",
        "intmon_slo_error_budget_remaining",
        "intmon_slo_burn_rate",
        "intmon_rollup_lag_seconds",
        "intmon_heartbeat_up",
        "intmon_heartbeat_last_seconds",
        "intmon_lead_acceptance_ratio",
        "intmon_lead_acceptance_usual_ratio",
    }
)
METRICS_TARGET = "metrics:9464"
DATASOURCE_UID = "prometheus"

# A compose value that is a reference, not a literal: ${VAR}, ${VAR:-placeholder}, ${VAR:?err}.
REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$")
SECRETISH = re.compile(r"passw(or)?d|secret|token|api[_-]?key|private[_-]?key|credential", re.I)
URL_PASSWORD = re.compile(r"://[^/:@\s]+:(?P<password>[^@\s]+)@")


# --- loading -------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def is_intmon(service: dict[str, Any]) -> bool:
    return "build" in service or "intmon" in str(service.get("image", ""))


def intmon_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items() if is_intmon(service)}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency → condition; the short (list) form means service_started."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every mount, short or long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((str(volume.get("source", "")), str(volume["target"])))
        else:
            source, _, rest = volume.partition(":")
            mounts.append((source, rest.split(":")[0]))
    return mounts


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return not check.get("disable", False) and bool(check.get("test"))


def published_ports(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports") or []]


# --- compose: structure ----------------------------------------------------------------


def test_compose_is_compose_spec_with_the_expected_services(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "Compose spec: the version key is obsolete"
    assert set(compose["services"]) == SERVICES


def test_intmon_services_share_the_anchor(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    shared = compose["x-intmon"]
    assert {"image", "build", "environment"} <= set(shared)
    assert set(intmon_services(services)) == {
        "migrate",
        "apply",
        "scheduler",
        "worker",
        "metrics",
        "api",
        "mail-in",
    }
    for name, service in intmon_services(services).items():
        assert service["image"] == shared["image"], name
        assert service["build"] == shared["build"], name
        assert environment(shared).items() <= environment(service).items(), name


def test_intmon_environment_points_at_the_compose_backends(compose: dict[str, Any]) -> None:
    env = environment(compose["x-intmon"])
    assert env["INTMON_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["INTMON_DATABASE_URL"]
    assert env["INTMON_REDIS_URL"].startswith("redis://redis:6379/")
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/")


# --- compose: commands against the real CLI ----------------------------------------------


def cli_commands() -> dict[str, Any]:
    """Subcommand name → click command of the typer app (click or typer's vendored click)."""
    from typer.main import get_command

    from intmon.cli import app

    group = get_command(app)
    commands = getattr(group, "commands", None)
    assert commands, "the intmon CLI must be a group of subcommands"
    return dict(commands)


def unknown_arguments(command: Any, args: list[str]) -> list[str]:
    """Options the command does not define, and positionals beyond its arguments."""
    options = {
        opt: param
        for param in command.params
        if param.param_type_name == "option"
        for opt in (*param.opts, *param.secondary_opts)
    }
    arguments = [param for param in command.params if param.param_type_name == "argument"]
    capacity = (
        float("inf")
        if any(param.nargs == -1 for param in arguments)
        else sum(param.nargs for param in arguments)
    )
    problems, positionals, tokens = [], 0, iter(args)
    for token in tokens:
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            param = options.get(name)
            if param is None:
                problems.append(f"unknown option {token}")
            elif not param.is_flag and not param.count and "=" not in token:
                next(tokens, None)  # the option's value
        else:
            positionals += 1
    if positionals > capacity:
        problems.append(f"{positionals} positional arguments, the command takes {capacity}")
    return problems


def test_cli_argument_check() -> None:
    from typer import Argument, Option, Typer
    from typer.main import get_command

    app = Typer()

    @app.command()
    def worker(processes: int = Option(1, "--processes"), verbose: bool = False) -> None: ...

    @app.command()
    def apply(file: str = Argument(...)) -> None: ...

    commands = dict(get_command(app).commands)  # type: ignore[attr-defined]
    assert not unknown_arguments(commands["worker"], ["--processes", "2", "--verbose"])
    assert not unknown_arguments(commands["worker"], ["--processes=2", "--no-verbose"])
    assert unknown_arguments(commands["worker"], ["--threads", "8"])
    assert unknown_arguments(commands["worker"], ["extra"])
    assert not unknown_arguments(commands["apply"], ["/etc/intmon/integrations.yaml"])
    assert unknown_arguments(commands["apply"], ["a.yaml", "b.yaml"])


def test_every_intmon_command_is_a_cli_subcommand(services: dict[str, dict[str, Any]]) -> None:
    commands = cli_commands()
    for name, service in intmon_services(services).items():
        command = service.get("command")
        assert isinstance(command, list) and command, f"{name}: command must be an exec-form list"
        subcommand, *args = (str(word) for word in command)
        assert subcommand in commands, f"{name}: `intmon {subcommand}` is not a subcommand"
        assert not unknown_arguments(commands[subcommand], args), (
            f"{name}: `intmon {' '.join(command)}`: {unknown_arguments(commands[subcommand], args)}"
        )


def test_image_entrypoint_and_default_command_exist() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert "intmon" in scripts, "the Dockerfile's ENTRYPOINT is the `intmon` console script"
    final = dockerfile_stages()[-1]
    (cmd,) = [json.loads(arg) for op, arg in final if op == "CMD"]
    assert cmd[0] in cli_commands()


def test_compose_runs_the_expected_roles(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["command"] == ["migrate"]
    assert services["apply"]["command"] == ["apply", "/etc/intmon/integrations.yaml"]
    assert services["scheduler"]["command"] == ["scheduler"]
    assert services["worker"]["command"][0] == "worker"
    assert services["metrics"]["command"] == ["metrics", "--port", "9464"]
    assert services["api"]["command"] == [
        *("api", "--host", "0.0.0.0", "--port", "8080", "--workers", "2")
    ]
    assert services["mail-in"]["command"] == ["mail-in", "--host", "0.0.0.0", "--port", "2525"]


# --- compose: ordering, health, scaling -------------------------------------------------


def test_one_shot_services(services: dict[str, dict[str, Any]]) -> None:
    assert {name for name, service in services.items() if is_one_shot(service)} == {
        "migrate",
        "apply",
    }
    assert depends_on(services["migrate"]) == {"postgres": "service_healthy"}
    assert depends_on(services["apply"])["migrate"] == "service_completed_successfully"
    mounts = dict((target, source) for source, target in volume_mounts(services["apply"]))
    assert mounts["/etc/intmon/integrations.yaml"] == "./deploy/integrations.example.yaml"
    assert any(volume.endswith(":ro") for volume in services["apply"]["volumes"]), (
        "the integrations file is mounted read-only"
    )


def test_dependencies_exist_and_their_conditions_can_be_met(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            target = services[dependency]
            if condition == "service_healthy":
                assert has_healthcheck(target), f"{name} waits for {dependency} healthy"
            elif condition == "service_completed_successfully":
                assert is_one_shot(target), f"{name} waits for {dependency} to exit"


def test_long_running_services_are_checked_or_wait_for_healthy_ones(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if is_one_shot(service):
            continue
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name
        waits = "service_healthy" in depends_on(service).values()
        assert has_healthcheck(service) or waits, f"{name}: no healthcheck, waits for nothing"


def test_intmon_long_running_services_wait_for_migrations_and_backends(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("scheduler", "worker", "metrics", "api", "mail-in"):
        assert depends_on(services[name]) == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "migrate": "service_completed_successfully",
        }, name


def test_worker_and_scheduler_can_run_several_copies(services: dict[str, dict[str, Any]]) -> None:
    for name in ("worker", "scheduler"):
        service = services[name]
        assert "container_name" not in service, f"{name}: container_name prevents --scale"
        assert not published_ports(service), f"{name}: a fixed host port prevents --scale"
        assert "hostname" not in service, f"{name}: metrics files are named by hostname"
    assert services["scheduler"].get("deploy", {}).get("replicas", 1) >= 1


def test_backends(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    assert str(redis["image"]).startswith("redis:7")
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    for name in ("redis", "postgres"):
        assert not published_ports(services[name]), f"{name} stays on the compose network"


def test_volumes_are_declared_and_bind_mounts_exist(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, target in volume_mounts(service):
            if source.startswith((".", "/")):
                # A missing source would be created by Docker as an empty directory.
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} ({target}) not declared"


def test_metrics_processes_share_the_multiprocess_dir(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    directory = environment(compose["x-intmon"])["PROMETHEUS_MULTIPROC_DIR"]
    assert "metrics" in compose["volumes"]
    for name in ("scheduler", "worker", "metrics"):
        assert environment(services[name])["PROMETHEUS_MULTIPROC_DIR"] == directory, name
        assert ("metrics", directory) in volume_mounts(services[name]), name
    # The image creates the directory for its non-root user; an empty named volume
    # mounted there takes its ownership.
    assert directory in DOCKERFILE.read_text(encoding="utf-8")


def test_metrics_service_is_published_and_health_checked(
    services: dict[str, dict[str, Any]],
) -> None:
    metrics = services["metrics"]
    assert any(port.endswith("9464:9464") for port in published_ports(metrics))
    assert environment(metrics).get("INTMON_METRICS_HOST") == "0.0.0.0"
    test = metrics["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    assert "urllib" in test[-1] and ":9464/healthz" in test[-1]


def test_observability_services(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    assert str(prometheus["image"]).startswith("prom/prometheus")
    assert any(port.endswith("9090:9090") for port in published_ports(prometheus))
    mounts = {target: source for source, target in volume_mounts(prometheus)}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    # Rule files are relative to the config file: the same paths in the repo and the container.
    for rule_file in load_yaml(PROMETHEUS)["rule_files"]:
        local = PROMETHEUS.parent / rule_file
        assert not Path(rule_file).is_absolute() and "*" not in rule_file, rule_file
        assert local.is_file(), rule_file
        inside = Path("/etc/prometheus", rule_file).parent.as_posix()
        assert mounts[inside] == f"./{local.parent.relative_to(ROOT).as_posix()}"

    grafana = services["grafana"]
    assert str(grafana["image"]).startswith("grafana/grafana")
    assert any(port.endswith("3000:3000") for port in published_ports(grafana))
    env = environment(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert REFERENCE.match(env["GF_SECURITY_ADMIN_PASSWORD"])
    mounts = {target: source for source, target in volume_mounts(grafana)}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = load_yaml(GRAFANA_PROVIDER)["providers"][0]
    dashboards_dir = provider["options"]["path"]
    assert mounts[dashboards_dir] == "./deploy/grafana/dashboards"


# --- compose: secrets --------------------------------------------------------------------


def strings_under(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, value) of every scalar in the file; `KEY=VALUE` list items are split."""
    if isinstance(node, dict):
        for child_key, value in node.items():
            yield from strings_under(value, str(child_key))
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", item):
                name, _, value = item.partition("=")
                yield name, value
            else:
                yield from strings_under(item, key)
    elif node is not None:
        yield key, str(node)


def inline_secrets(document: Any) -> list[str]:
    """Values that look like a secret written out instead of referenced."""
    found = []
    for key, value in strings_under(document):
        if SECRETISH.search(key) and not REFERENCE.match(value):
            found.append(f"{key}: write ${{VAR}} or a local-only ${{VAR:-placeholder}}")
        for match in URL_PASSWORD.finditer(value):
            if not REFERENCE.match(match["password"]):
                found.append(f"{key}: password inline in a URL")
    return found


def test_no_inline_secrets_in_compose(compose: dict[str, Any]) -> None:
    assert inline_secrets(compose) == []


def test_secret_detection_catches_literals() -> None:
    assert inline_secrets({"x": {"environment": {"DB_PASSWORD": "hunter2"}}})
    assert inline_secrets({"x": {"environment": ["API_TOKEN=abc"]}})
    assert inline_secrets({"x": {"password": "hunter2"}})
    assert inline_secrets({"x": {"environment": {"URL": "postgresql://u:hunter2@db/x"}}})
    assert not inline_secrets(
        {"x": {"environment": {"DB_PASSWORD": "${DB_PASSWORD:-local}", "URL": "redis://r/0"}}}
    )


def test_worker_gets_partner_credentials_from_an_env_file(
    services: dict[str, dict[str, Any]],
) -> None:
    # The worker resolves the integrations' ${VAR} secrets; so does the API when it
    # runs checks on request, and it reads the console's session secret there too.
    for name in ("worker", "api"):
        env_files = services[name]["env_file"]
        assert env_files, name
        for entry in env_files:
            path = entry["path"] if isinstance(entry, dict) else entry
            assert path.startswith("./deploy/")


def test_the_api_is_published_on_loopback_and_health_checked(
    services: dict[str, dict[str, Any]],
) -> None:
    api = services["api"]
    assert published_ports(api) == ["127.0.0.1:8080:8080"]
    assert has_healthcheck(api) and "/healthz" in " ".join(api["healthcheck"]["test"])


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        if op.upper() == "FROM":
            stages.append([])
        stages[-1].append((op.upper(), args.strip()))
    return [stage for stage in stages if stage and stage[0][0] == "FROM"]


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    stages = dockerfile_stages()
    assert all(args.split()[0] == "${PYTHON_IMAGE}" for op, args in (s[0] for s in stages))
    final = stages[-1]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (entrypoint,) = [json.loads(args) for op, args in final if op == "ENTRYPOINT"]
    assert entrypoint == ["intmon"]
    assert "pip install --no-cache-dir -c constraints.txt ." in text


def test_dockerignore_keeps_the_package_and_drops_local_state() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for ignored in (".venv", ".git", "**/__pycache__", ".pytest_cache", "**/*.env"):
        assert ignored in patterns
    for needed in ("pyproject.toml", "intmon", "integrations", "checks", "worker"):
        assert needed not in patterns
    assert "!README.md" in patterns or not any(p in ("*.md", "README.md") for p in patterns)


# --- Prometheus --------------------------------------------------------------------------


def test_prometheus_scrapes_the_metrics_service() -> None:
    config = load_yaml(PROMETHEUS)
    default_interval = config.get("global", {}).get("scrape_interval", "1m")
    jobs = [
        job
        for job in config["scrape_configs"]
        if any(METRICS_TARGET in static.get("targets", []) for static in job["static_configs"])
    ]
    assert len(jobs) == 1
    (job,) = jobs
    assert job.get("scrape_interval", default_interval) == "15s"
    assert job.get("metrics_path", "/metrics") == "/metrics"


# --- Grafana -----------------------------------------------------------------------------


PROMQL_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.I
)
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without"}
IDENTIFIER = re.compile(r"(?<![\w$.:])([A-Za-z_:][\w:]*)\b(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions,
    keywords, labels (in matchers and groupings), strings, ranges or variables."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"'(?:[^'\\]|\\.)*'", "''", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = PROMQL_GROUPING.sub("", expr)
    return {name for name in IDENTIFIER.findall(expr) if name.lower() not in PROMQL_KEYWORDS}


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (integration, le) (rate(a_bucket{x=~"$integration",'
        ' outcome!~"ok|slow"}[$__rate_interval]))) / (b_total - time()) / 86400'
        " or vector(0) and on (job) c"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def exposed_metric_names() -> set[str]:
    """Every sample name intmon exposes: the process metrics (a histogram by its
    buckets), queue depth, the alerts stage's families and the lead ledger's counter."""
    from prometheus_client import Counter, Gauge, Histogram
    from sqlalchemy import create_engine

    import core.metrics as process_metrics
    import intmon.metrics as app_metrics

    suffix = {"counter": "_total", "histogram": "_bucket", "gauge": ""}
    exposed = {
        family.name + suffix[family.type]
        for metric in vars(process_metrics).values()
        if isinstance(metric, Counter | Gauge | Histogram)
        for family in metric.describe()
    }
    exposed |= {family.name for family in app_metrics.QueueDepthCollector(dict).collect()}
    # describe() names the alerts stage's families without reading the database.
    alerts = app_metrics.AlertsCollector(create_engine("sqlite://"))
    exposed |= {family.name for family in alerts.describe()}
    fresh = app_metrics.FreshnessCollector(create_engine("sqlite://"))
    exposed |= {family.name for family in fresh.describe()}
    history = app_metrics.HistoryCollector(create_engine("sqlite://"))
    exposed |= {family.name for family in history.describe()}
    beats = app_metrics.HeartbeatCollector(create_engine("sqlite://"))
    exposed |= {family.name for family in beats.describe()}
    postbacks = app_metrics.PostbackCollector(create_engine("sqlite://"))
    exposed |= {family.name for family in postbacks.describe()}
    return exposed | lead_metric_names()


def test_dashboard_metric_names_are_what_the_app_exposes() -> None:
    exposed = exposed_metric_names()
    assert exposed >= METRICS, f"not exposed by intmon: {sorted(METRICS - exposed)}"


def lead_metric_names() -> set[str]:
    """The lead ledger's counter (alerts/lead_metrics.py), as exposed."""
    from alerts.lead_metrics import leads_total

    return {family.name + "_total" for family in leads_total.describe()}


def test_grafana_datasource_provisioning() -> None:
    (datasource,) = load_yaml(GRAFANA_DATASOURCE)["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "http://prometheus:9090"
    provider = load_yaml(GRAFANA_PROVIDER)
    assert provider["apiVersion"] == 1
    assert provider["providers"][0]["type"] == "file"


def test_dashboard_is_a_valid_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"] and dashboard["title"]
    assert dashboard.get("id") is None, "provisioned dashboards carry no database id"
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["expr"].strip()


def test_dashboard_integration_variable(dashboard: dict[str, Any]) -> None:
    variables = {var["name"]: var for var in dashboard["templating"]["list"]}
    integration = variables["integration"]
    assert integration["datasource"]["uid"] == DATASOURCE_UID
    query = integration["query"]
    query = query["query"] if isinstance(query, dict) else query
    assert re.sub(r"\s", "", query) == "label_values(intmon_integration_up,integration)"


def test_dashboard_uses_only_exposed_metrics_and_shows_them_all(
    dashboard: dict[str, Any],
) -> None:
    used: set[str] = set()
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            names = metric_names(target["expr"])
            assert names, f"{panel['title']}: no metric in {target['expr']!r}"
            assert names <= METRICS, f"{panel['title']}: unknown metric {names - METRICS}"
            used |= names
    for variable in dashboard["templating"]["list"]:
        query = variable.get("definition", "")
        used |= set(re.findall(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,", query))
    assert used == METRICS, f"not on the dashboard: {sorted(METRICS - used)}"


# --- example integrations -------------------------------------------------------------------


def test_example_integrations_file_validates() -> None:
    from intmon.config_file import ConfigFile

    parsed = ConfigFile.model_validate(load_yaml(EXAMPLE_INTEGRATIONS))
    assert len(parsed.integrations) == 3
    assert {integration.kind.value for integration in parsed.integrations} == {
        "broker",
        "advertiser",
        "shop",
    }
    assert {integration.auth.type for integration in parsed.integrations} == {
        "oauth2_client_credentials",
        "bearer",
        "header",
    }
    for integration in parsed.integrations:
        assert re.search(r"\.example\.(com|net|org)$", integration.base_url.split("/")[2])


def test_example_integrations_file_loads_like_intmon_apply() -> None:
    from intmon.config_file import load_config

    loaded = load_config(EXAMPLE_INTEGRATIONS)
    assert [integration.id for integration in loaded.integrations] == [
        "leadhub-broker",
        "brightads-advertiser",
        "shopfront-orders",
    ]

"""docker-compose.yml (no Docker engine here): its services and commands point at real code."""

import importlib
import shlex
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def command(service: str) -> list[str]:
    return shlex.split(compose()["services"][service]["command"])


def test_compose_runs_web_worker_beat_postgres_and_redis():
    services = compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_app_services_share_database_broker_and_secret():
    for name in ("web", "worker", "beat", "migrate"):
        env = compose()["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_web_runs_gunicorn_on_the_project_wsgi_application():
    argv = command("web")
    assert argv[0] == "gunicorn"
    module, _, attribute = argv[1].partition(":")
    assert callable(getattr(importlib.import_module(module), attribute or "application"))


def test_worker_and_beat_use_the_project_celery_app():
    worker, beat = command("worker"), command("beat")
    assert worker[:4] == ["celery", "-A", "thyroweb", "worker"] and "solo" in worker
    assert beat[:4] == ["celery", "-A", "thyroweb", "beat"]
    scheduler = beat[beat.index("--scheduler") + 1]
    module, _, name = scheduler.partition(":")
    assert hasattr(importlib.import_module(module), name)


def test_migrate_runs_the_project_set_up_commands():
    argv = command("migrate")
    script = argv[-1]
    assert "manage.py migrate" in script and "manage.py setup_thyroweb" in script
    assert importlib.import_module("diagnostics.management.commands.setup_thyroweb").Command


def test_dockerfile_installs_the_pinned_requirements():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile and "pip install -r requirements.txt" in dockerfile


def test_nginx_is_the_only_way_in_and_proxies_to_web():
    services = compose()["services"]
    assert "ports" not in services["web"]  # gunicorn is not published
    nginx = services["nginx"]
    assert nginx["ports"] == ["8000:8080"] and nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert "/app/deploy/nginx.conf" in nginx["command"]
    config = (BASE_DIR / "deploy" / "nginx.conf").read_text()
    assert "server web:8000;" in config and "listen 8080;" in config
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    assert "nginx" in (BASE_DIR / "Dockerfile").read_text() and "nginx:nginx" in (BASE_DIR / ".ci" / "run").read_text()


def test_the_web_health_check_asks_the_health_endpoint():
    check = " ".join(compose()["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in check


def test_every_long_running_service_restarts_and_redis_keeps_its_data():
    services = compose()["services"]
    for name, service in services.items():
        assert service.get("restart") == ("no" if name == "migrate" else "unless-stopped"), name
    redis = services["redis"]
    assert "--appendonly yes" in redis["command"] and any(v.endswith(":/data") for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose()["volumes"]


def test_web_and_worker_have_health_checks_and_share_no_disk():
    services = compose()["services"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("web", "worker", "beat", "migrate"):
        assert not services[name].get("volumes"), f"{name}: files are shared through the database, not a volume"

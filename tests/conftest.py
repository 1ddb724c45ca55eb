"""Shared test fixtures: users per role, data location, builders."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from diagnostics.access import ADMIN, CLINICIAN, DATA_MANAGER
from diagnostics.models import ModelVersion
from diagnostics.services.registry import active_model_version
from mlcore.predictor import DEFAULT_MODEL_DIR
from tests.celery_worker import celery_worker_process  # noqa: F401  (a fixture for every test module)
from tests.job_builders import dev_records

DATA_DIR = Path(os.environ["THYROWEB_DATA_DIR"]) if os.environ.get("THYROWEB_DATA_DIR") else None
from tests.servers import PASSWORD  # noqa: E402,F401 (one definition, shared with subprocess servers)


def pytest_collection_modifyitems(config, items):
    """Mark what `make test-fast` leaves out, from what a test uses: Chromium (tests/browser/) and real Celery
    worker processes (the celery_worker_process fixture, or a module that starts workers with run_worker), and
    as slow a test that needs a model trained for it. Slow tests of other kinds (server processes) say so
    themselves with @pytest.mark.slow."""
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        module = getattr(item, "module", None)
        fixtures = getattr(item, "fixturenames", ())
        if "celery_worker_process" in fixtures or hasattr(module, "run_worker"):
            item.add_marker(pytest.mark.worker)
        if "small_model" in fixtures:  # tests/mlcore's model, trained with TensorFlow once per session
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """A test starts with no cached token or active model version (a rolled-back test sends no signals)."""
    from diagnostics import process_cache

    process_cache.clear_all()
    yield
    process_cache.clear_all()


# --- The model the scoring tests use, and the media folder of their files ---


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


_trained_model_dir: Path | None = None


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory) -> Path:
    """A model directory: the one shipped in mlcore, or (until it ships) a small one trained once per session."""
    global _trained_model_dir
    if (Path(DEFAULT_MODEL_DIR) / "metadata.json").exists():
        return Path(DEFAULT_MODEL_DIR)
    if _trained_model_dir is None:  # every module shares one training
        from mlcore.train import train_model  # TensorFlow: only while no model ships with mlcore

        out = tmp_path_factory.mktemp("model") / "small"
        _trained_model_dir = train_model(dev_records(1500), out, seed=0, epochs=8)
    return _trained_model_dir


@pytest.fixture
def active_version(small_model_dir) -> ModelVersion:
    """The active model version the jobs use (the shipped model when mlcore has one)."""
    if small_model_dir == Path(DEFAULT_MODEL_DIR):
        return active_model_version()
    return ModelVersion.objects.create(
        version="test-small", status=ModelVersion.Status.ACTIVE, artefact_path=str(small_model_dir)
    )


@pytest.fixture
def dev_data_file() -> Path:
    """The dev subset of thyroid0387 in THYROWEB_DATA_DIR (set by CI)."""
    if DATA_DIR is None or not (DATA_DIR / "thyroid0387-dev.data").exists():
        pytest.skip("THYROWEB_DATA_DIR with thyroid0387-dev.data is not set")
    return DATA_DIR / "thyroid0387-dev.data"


def make_user(django_user_model, username: str, role: str | None):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    if role == ADMIN:
        user.is_staff = user.is_superuser = True
        user.save()
    if role is not None:
        if not Group.objects.filter(name=role).exists():  # a plain transactional test's flush removed them
            from diagnostics.roles import ensure_groups

            ensure_groups()
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def clinician(django_user_model):
    return make_user(django_user_model, "clin", CLINICIAN)


@pytest.fixture
def data_manager(django_user_model):
    return make_user(django_user_model, "dm", DATA_MANAGER)


@pytest.fixture
def admin_user(django_user_model):
    return make_user(django_user_model, "boss", ADMIN)


@pytest.fixture
def no_role_user(django_user_model):
    return make_user(django_user_model, "visitor", None)


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Hashed manifest names 404 under live_server; tests serve static files plainly."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 is slow on purpose (~0.2 s a user); test users are hashed with MD5 to keep the suite fast."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

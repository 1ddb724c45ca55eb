"""Schemathesis fuzzes every operation of the API's own OpenAPI schema: no 5xx, no answer off the schema.

The schema is loaded from /api/v1/schema/ through the WSGI application (in
process, inside the test's database transaction), authenticating with a data
manager's token so every endpoint is reachable.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import checks as builtin_checks
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.api_builders import make_panel, make_patient, make_prediction, make_version

MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "12"))  # raise it for a deeper local run
CHECKS = [
    builtin_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


@pytest.fixture
def token_header(data_manager, settings, tmp_path, active_version):
    settings.MEDIA_ROOT = tmp_path
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "1000000/hour"}}
    patient = make_patient()
    make_prediction(make_panel(patient), make_version("fuzz-candidate"))
    token, _ = Token.objects.get_or_create(user=data_manager)
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture
def api_schema(token_header):
    # Like Django's test client: keep the test's connection (and transaction) open across requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application(), headers=token_header)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def run_operation(operation, mode, headers) -> str | None:
    """Fuzz one operation; the failure's description, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=os.environ.get("API_FUZZ_RANDOM") != "1",  # CI: the same cases every run
    )
    def fuzz(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        fuzz()
    except Unsatisfiable:  # e.g. no invalid value exists for a free-form string path parameter
        return None
    except (Exception, BaseExceptionGroup) as failure:
        return f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}"
    return None


@pytest.mark.slow
@pytest.mark.django_db
def test_api_answers_every_generated_request_within_its_schema(api_schema, token_header):
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = run_operation(operation, mode, token_header)
            if failure:
                failures.append(failure)
    assert operations >= 20
    assert not failures, "\n\n".join(failures)

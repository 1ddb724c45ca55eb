"""Security headers on every response: Content-Security-Policy, framing, sniffing, referrer, request id."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from diagnostics.middleware import ContentSecurityPolicyMiddleware

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("name", ["audit", "dashboard", "api-predictions", "admin:index", "api-docs"])
def test_every_kind_of_response_carries_the_policy_and_hardening_headers(client_for, admin_user, name):
    response = client_for(admin_user).get(reverse(name))
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no CDN: Chart.js and Swagger UI are served locally
    # Swagger UI alone sets inline styles; its view relaxes style-src and nothing else.
    assert policy["style-src"] == ("'self' 'unsafe-inline'" if name == "api-docs" else "'self'")
    assert policy["img-src"] == "'self' data:"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert len(response["X-Request-ID"]) == 32


def test_refusals_and_errors_carry_the_policy_too(client):
    assert "Content-Security-Policy" in client.get(reverse("login"))
    assert "Content-Security-Policy" in client.get(reverse("dashboard"))  # redirect to login
    assert "Content-Security-Policy" in client.get("/no/such/page/")
    assert "Content-Security-Policy" in client.get(reverse("api-predictions"))  # 401


def test_pages_contain_no_inline_script_the_policy_would_block(client_for, admin_user):
    for name in ("dashboard", "audit", "patient_list", "panel_create", "model_list", "training_list"):
        html = client_for(admin_user).get(reverse(name)).content.decode()
        assert "<script>" not in html and "onclick=" not in html and "javascript:" not in html, name


def test_a_view_may_relax_one_directive_and_keeps_the_rest():
    def view(request):
        return HttpResponse("ok")

    view.content_security_policy = {"style-src": "'self' 'unsafe-inline'"}
    middleware = ContentSecurityPolicyMiddleware(lambda request: view(request))
    request = RequestFactory().get("/")
    middleware.process_view(request, view, (), {})
    policy = directives(middleware(request)["Content-Security-Policy"])
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self'"


def test_a_policy_set_by_the_view_is_left_alone():
    def view(request):
        response = HttpResponse("ok")
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    middleware = ContentSecurityPolicyMiddleware(view)
    assert middleware(RequestFactory().get("/"))["Content-Security-Policy"] == "default-src 'none'"

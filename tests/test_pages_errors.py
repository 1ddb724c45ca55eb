"""Error and lockout pages: styled, translated and with the site's navigation (404, 403, 500 with its plain
fallback, the login lockout)."""

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from diagnostics.views.errors import server_error
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def french(client):
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    return client


def test_the_404_page_is_styled_translated_and_has_the_navigation(client_for, clinician):
    response = french(client_for(clinician)).get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page introuvable" in html and 'class="error-page"' in html and "thyroweb.css" in html
    assert "<nav aria-label=" in html and reverse("patient_list") in html


def test_the_403_page_is_styled_translated_and_has_the_navigation(client_for, no_role_user, clinician):
    response = french(client_for(no_role_user)).get(reverse("patient_list"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Accès refusé" in html and 'class="error-page"' in html and "<nav aria-label=" in html


def test_the_500_page_keeps_the_navigation_and_falls_back_to_the_plain_page(clinician):
    request = RequestFactory().get("/")
    request.user = clinician
    request.session = {}
    with translation.override("en"):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in html and reverse("patient_list") in html

    broken = RequestFactory().get("/")  # no user, no session: the navigation cannot be drawn
    broken.user = object()
    fallback = server_error(broken)
    assert fallback.status_code == 500


def test_the_lockout_page_is_styled_and_translated(client, clinician):
    french(client)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "clin", "password": "wrong-password"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Connexion bloquée" in html and 'class="error-page"' in html and "thyroweb.css" in html
    assert client.post(reverse("login"), {"username": "clin", "password": PASSWORD}).status_code == 429

"""Every page: anonymous users go to the login page, users without the role get 403, the right role gets 200."""

import pytest
from django.urls import reverse

from diagnostics.models import ScoringJob, TrainingRun
from tests.page_builders import make_panel, make_patient, make_prediction, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects():
    version = make_version("v-access")
    patient = make_patient()
    panel = make_panel(patient)
    make_prediction(panel, version, "hypothyroid", uncertain=True)
    return {
        "patient": patient,
        "panel": panel,
        "version": version,
        "run": TrainingRun.objects.create(),
        "job": ScoringJob.objects.create(),
    }


def clinician_pages(o):
    return [
        reverse("dashboard"),
        reverse("patient_list"),
        reverse("patient_list") + "?q=MRN",
        reverse("patient_detail", args=[o["patient"].pk]),
        reverse("panel_create"),
        reverse("panel_create") + f"?patient={o['patient'].pk}",
        reverse("panel_detail", args=[o["panel"].pk]),
        reverse("model_list"),
        reverse("model_detail", args=[o["version"].pk]),
        reverse("model_compare") + f"?a={o['version'].pk}&b={o['version'].pk}",
    ]


def data_manager_pages(o):
    return [
        reverse("training_list"),
        reverse("training_detail", args=[o["run"].pk]),
        reverse("training_progress") + f"?ids={o['run'].pk}",
        reverse("scoring_list"),
        reverse("scoring_detail", args=[o["job"].pk]),
        reverse("scoring_progress") + f"?ids={o['job'].pk}",
    ]


def test_anonymous_users_are_sent_to_the_login_page(client, objects):
    for url in clinician_pages(objects) + data_manager_pages(objects):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_users_without_a_role_are_refused(client_for, no_role_user, objects):
    client = client_for(no_role_user)
    for url in clinician_pages(objects) + data_manager_pages(objects):
        assert client.get(url).status_code == 403, url


def test_clinicians_open_every_clinician_page(client_for, clinician, objects):
    client = client_for(clinician)
    for url in clinician_pages(objects):
        assert client.get(url).status_code == 200, url


def test_clinicians_cannot_open_job_pages(client_for, clinician, objects):
    client = client_for(clinician)
    for url in data_manager_pages(objects):
        assert client.get(url).status_code == 403, url


def test_data_managers_open_job_pages(client_for, data_manager, objects):
    client = client_for(data_manager)
    for url in data_manager_pages(objects) + clinician_pages(objects):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("name", ["training_start", "scoring_start"])
def test_job_start_forms_refuse_clinicians_and_anonymous(client, client_for, clinician, name):
    assert client.post(reverse(name)).status_code == 302
    assert client_for(clinician).post(reverse(name)).status_code == 403


def test_model_activation_refuses_clinicians_and_anonymous(client, client_for, clinician, objects):
    url = reverse("model_activate", args=[objects["version"].pk])
    assert client.post(url).status_code == 302
    assert client_for(clinician).post(url).status_code == 403


def test_navigation_shows_each_role_its_pages(client_for, clinician, data_manager, admin_user):
    def nav(user):
        html = client_for(user).get(reverse("dashboard")).content.decode()
        return html[html.index("<nav") : html.index("</nav>")]

    assert reverse("patient_list") in nav(clinician) and reverse("training_list") not in nav(clinician)
    assert reverse("training_list") in nav(data_manager) and reverse("audit") not in nav(data_manager)
    assert reverse("audit") in nav(admin_user)

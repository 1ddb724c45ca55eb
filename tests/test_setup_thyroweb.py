"""`manage.py setup_thyroweb`: first-run set-up of groups, demo users, the shipped model and the data."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from diagnostics.models import AuditEvent, LabPanel, ModelVersion, Prediction
from tests.test_import_uci import GOOD, write

pytestmark = pytest.mark.django_db


def test_set_up_imports_the_data_folder_and_scores_every_panel_once(tmp_path, settings):
    write(tmp_path, GOOD)
    (tmp_path / "sample.data").rename(tmp_path / "thyroid0387.data")
    settings.THYROWEB_DATA_DIR = settings.THYROWEB_HOME = tmp_path
    call_command("setup_thyroweb")
    active = ModelVersion.objects.get(status="active")
    assert LabPanel.objects.count() == 3
    assert Prediction.objects.filter(model_version=active).count() == 3
    hypo = Prediction.objects.get(panel__source_ref="850612002")
    assert hypo.predicted_class == "hypothyroid"
    assert abs(hypo.p_normal + hypo.p_hyperthyroid + hypo.p_hypothyroid - 1) < 1e-6
    assert get_user_model().objects.filter(username__startswith="demo_").count() == 3
    assert AuditEvent.objects.filter(action="prediction.bulk_stored_panels").count() == 1

    call_command("setup_thyroweb", "--no-demo-users")
    assert Prediction.objects.count() == 3


def test_set_up_without_data_scores_nothing_and_still_registers_the_model(tmp_path, settings, capsys):
    settings.THYROWEB_DATA_DIR = tmp_path
    call_command("setup_thyroweb", "--no-demo-users")
    out = capsys.readouterr().out
    assert "no thyroid0387 data" in out and "0 stored panels scored" in out
    assert "THYROWEB_DATA_DIR" in out and "manage.py fetch_uci" in out  # says how to get data
    assert ModelVersion.objects.filter(status="active").count() == 1


def test_a_bulk_scored_panel_is_explained_when_a_clinician_opens_it(tmp_path, settings, client_for, clinician):
    write(tmp_path, GOOD)
    (tmp_path / "sample.data").rename(tmp_path / "thyroid0387.data")
    settings.THYROWEB_DATA_DIR = tmp_path
    call_command("setup_thyroweb", "--no-demo-users")
    prediction = Prediction.objects.get(panel__source_ref="850612002")
    assert prediction.explanation == []

    page = client_for(clinician).get(f"/panels/{prediction.panel_id}/").content.decode()
    assert "TSH 45 mU/L pushed towards hypothyroid" in page
    assert "No input moved the probabilities" not in page
    prediction.refresh_from_db()
    assert prediction.explanation == []  # computed for the page, the stored prediction is unchanged


def test_starting_twice_keeps_the_demo_passwords_printed_the_first_time(tmp_path, settings, capsys):
    settings.THYROWEB_DATA_DIR = settings.THYROWEB_HOME = tmp_path
    call_command("setup_thyroweb")
    password = re.search(r"demo_clinician\s+password (\S+)", capsys.readouterr().out).group(1)
    call_command("setup_thyroweb")
    assert "kept with their passwords" in capsys.readouterr().out
    assert get_user_model().objects.get(username="demo_clinician").check_password(password)

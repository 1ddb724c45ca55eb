"""`manage.py import_uci`: the Garvan/UCI archive into patients and lab panels."""

import pytest
from django.core.management import CommandError, call_command

from diagnostics.models import AuditEvent, LabPanel, Patient

pytestmark = pytest.mark.django_db

GOOD = [
    "41,F,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,1.3,t,2.5,t,125,t,1.14,t,109,f,?,SVHC,-[840801013]",
    "70,F,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,45,t,0.8,t,30,t,0.9,t,33,f,?,SVI,F[850612002]",
    "35,M,f,f,f,f,f,f,f,f,f,f,f,f,f,f,t,0.005,t,6.2,t,190,t,1.0,t,190,f,?,other,C|A[860101007]",
]


def write(tmp_path, lines) -> str:
    path = tmp_path / "sample.data"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_each_record_becomes_one_patient_and_one_panel_with_its_mapped_class(tmp_path):
    call_command("import_uci", write(tmp_path, GOOD))
    assert Patient.objects.count() == 3
    panel = LabPanel.objects.get(source_ref="850612002")
    assert panel.patient.record_number == "UCI-850612002"
    assert (panel.diagnosis_raw, panel.diagnosis_class, panel.TSH, panel.referral_source) == (
        "F",
        "hypothyroid",
        45,
        "SVI",
    )
    assert panel.collected_at.date().isoformat() == "1985-06-12"
    assert LabPanel.objects.get(source_ref="860101007").diagnosis_class == "hyperthyroid"
    assert LabPanel.objects.get(source_ref="840801013").TBG is None


def test_importing_the_same_file_twice_creates_no_duplicates(tmp_path):
    path = write(tmp_path, GOOD)
    call_command("import_uci", path)
    call_command("import_uci", path)
    assert (Patient.objects.count(), LabPanel.objects.count()) == (3, 3)


def test_import_is_atomic_when_a_line_is_malformed(tmp_path, capsys):
    bad = GOOD[:1] + ["41,F,f,f[840801099]", GOOD[1], GOOD[2].replace(",0.005,", ",1200,")]
    with pytest.raises(CommandError, match="2 malformed line"):
        call_command("import_uci", write(tmp_path, bad))
    err = capsys.readouterr().err
    assert "line 2:" in err and "line 4:" in err and "TSH" in err
    assert Patient.objects.count() == 0 and LabPanel.objects.count() == 0


def test_skip_bad_imports_the_good_lines_and_lists_the_rejected_ones(tmp_path, capsys):
    bad = GOOD[:2] + ["not a record at all"]
    call_command("import_uci", write(tmp_path, bad), "--skip-bad")
    out = capsys.readouterr().out
    assert "rejected: line 3:" in out
    assert LabPanel.objects.count() == 2


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_uci", str(tmp_path / "nope.data"))


def test_the_shared_dev_file_imports_with_the_class_counts_it_implies(dev_data_file, capsys):
    call_command("import_uci", str(dev_data_file))
    assert Patient.objects.count() == 7303
    counts = {
        c: LabPanel.objects.filter(diagnosis_class=c).count()
        for c in ("normal", "hyperthyroid", "hypothyroid", "other")
    }
    assert counts == {"normal": 5415, "hyperthyroid": 181, "hypothyroid": 532, "other": 1175}
    # Impossible ages in the archive are kept as unknown, with a warning.
    assert "age 455" in capsys.readouterr().out
    assert LabPanel.objects.filter(age__isnull=True).count() >= 3
    assert AuditEvent.objects.filter(action="data.import_uci").count() == 1
    call_command("import_uci", str(dev_data_file))
    assert LabPanel.objects.count() == 7303

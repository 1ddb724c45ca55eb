"""Server time of the patient list and the patient page with 100,000 patients and 200,000 panels in PostgreSQL.

Usage (PostgreSQL only; seeds once, then reuses the rows):
    DATABASE_URL=postgres://... SECRET_KEY=... python bench/pages.py [--patients 100000] [--repeat 30]

Seeds patients BENCH-000000..., two panels each and one prediction per panel (a bench model
version in status "retired"), with bulk inserts. Then times requests through Django's full stack
in-process (middleware, view, queries, template): that is the server time, without network.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from diagnostics.access import CLINICIAN  # noqa: E402
from diagnostics.models import LabPanel, ModelVersion, Patient, Prediction  # noqa: E402

PREFIX = "BENCH-"
BATCH = 5000
BENCH_VERSION = "bench-pages"


def seed(n_patients: int, panels_each: int, rng: random.Random) -> None:
    have = Patient.objects.filter(record_number__startswith=PREFIX).count()
    if have >= n_patients:
        print(f"seed: {have} bench patients already present")
        return
    version, _ = ModelVersion.objects.get_or_create(
        version=BENCH_VERSION, defaults={"status": ModelVersion.Status.RETIRED, "artefact_path": "unused"}
    )
    start = time.perf_counter()
    classes = ["normal"] * 8 + ["hypothyroid", "hyperthyroid"]
    epoch = datetime(1984, 1, 1, tzinfo=UTC)
    for first in range(have, n_patients, BATCH):
        numbers = [f"{PREFIX}{i:06d}" for i in range(first, min(first + BATCH, n_patients))]
        with transaction.atomic():
            Patient.objects.bulk_create(
                [Patient(record_number=number, sex=rng.choice("FM")) for number in numbers], batch_size=BATCH
            )
            ids = list(Patient.objects.filter(record_number__in=numbers).values_list("id", flat=True))
            panels = []
            for patient_id in ids:
                for _ in range(panels_each):
                    tsh = round(rng.lognormvariate(0.3, 1.0), 3)
                    tt4 = round(rng.uniform(40, 180), 1)
                    t4u = round(rng.uniform(0.7, 1.3), 2)
                    panels.append(
                        LabPanel(
                            patient_id=patient_id,
                            collected_at=epoch + timedelta(days=rng.uniform(0, 15000)),
                            age=rng.randint(18, 90),
                            TSH=min(tsh, 500),
                            T3=round(rng.uniform(0.8, 3.2), 2),
                            TT4=tt4,
                            T4U=t4u,
                            FTI=round(tt4 / t4u, 1),
                            source=LabPanel.Source.CSV,
                        )
                    )
            LabPanel.objects.bulk_create(panels, batch_size=BATCH)
            panel_ids = LabPanel.objects.filter(patient_id__in=ids).values_list("id", flat=True)
            predictions = []
            for panel_id in panel_ids:
                predicted = rng.choice(classes)
                p = {"normal": 0.05, "hyperthyroid": 0.05, "hypothyroid": 0.05, predicted: 0.9}
                referred = rng.random() < 0.05  # the dashboard's review list reads referrals
                predictions.append(
                    Prediction(
                        panel_id=panel_id,
                        model_version=version,
                        predicted_class=predicted,
                        uncertain=referred,
                        outcome="refer" if referred else "assessed",
                        reasons=[{"code": "low_confidence", "params": {}}] if referred else [],
                        p_normal=p["normal"],
                        p_hyperthyroid=p["hyperthyroid"],
                        p_hypothyroid=p["hypothyroid"],
                    )
                )
            Prediction.objects.bulk_create(predictions, batch_size=BATCH)
        print(f"seed: {min(first + BATCH, n_patients)}/{n_patients} patients", end="\r", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"\nseed: done in {time.perf_counter() - start:.1f} s")


def timed(client: Client, url: str, repeat: int) -> dict:
    client.get(url)  # warm-up (template loading, connection)
    times, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(round(0.95 * len(times))) - 1)],
        "max": times[-1],
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--panels-each", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    if not settings.USING_POSTGRES:
        sys.exit("bench/pages.py needs DATABASE_URL pointing to PostgreSQL")
    call_command("migrate", verbosity=0)
    rng = random.Random(0)
    seed(args.patients, args.panels_each, rng)

    user, _ = User.objects.get_or_create(username="bench-clinician")
    user.groups.add(Group.objects.get(name=CLINICIAN))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)

    totals = {
        "patients": Patient.objects.visible().count(),
        "panels": LabPanel.objects.count(),
        "predictions": Prediction.objects.count(),
    }
    print(f"database: {totals['patients']} patients, {totals['panels']} panels, {totals['predictions']} predictions")
    pages = int(args.patients / 50)
    sample = [f"{PREFIX}{rng.randrange(args.patients):06d}" for _ in range(5)]
    patient_ids = list(Patient.objects.filter(record_number__in=sample).values_list("id", flat=True))
    cases = [
        ("patient list, page 1", reverse("patient_list")),
        ("patient list, page 1000", reverse("patient_list") + "?page=1000"),
        (f"patient list, last page ({pages})", reverse("patient_list") + f"?page={pages}"),
        ("patient list, search 'BENCH-0'", reverse("patient_list") + "?q=BENCH-0"),
        ("patient list, search 'BENCH-04217'", reverse("patient_list") + "?q=BENCH-04217"),
        ("patient list, search with no match", reverse("patient_list") + "?q=ZZZ"),
        # Inside the record number (no index serves it: the table is read)
        ("patient list, search inside '4217'", reverse("patient_list") + "?q=4217"),
        ("patient list, search inside, no match", reverse("patient_list") + "?q=-X9"),
        *[(f"patient page #{i + 1}", reverse("patient_detail", args=[pk])) for i, pk in enumerate(patient_ids)],
        ("dashboard (for information)", reverse("dashboard")),
    ]
    print(f"\n{'page':42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8}   ({args.repeat} requests each)")
    for name, url in cases:
        result = timed(client, url, args.repeat)
        print(f"{name:42} {result['p50']:8.1f} {result['p95']:8.1f} {result['max']:8.1f} {result['queries']:8d}")


if __name__ == "__main__":
    main()

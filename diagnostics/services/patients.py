"""Writes on patients."""

from django.db import transaction
from django.utils import timezone

from diagnostics.access import DATA_MANAGER, require_role
from diagnostics.models import Patient
from diagnostics.services.audit import record_event


@transaction.atomic
def delete_patient(*, patient: Patient, user, request=None) -> Patient:
    """Soft delete: hide the patient from the app; the row, its panels and its audit trail stay.

    Only a data manager (or admin) may delete; deleting twice changes nothing.
    """
    require_role(user, DATA_MANAGER)
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if locked.deleted_at is None:
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at", "updated_at"])
        record_event(action="patient.delete", actor=user, request=request, obj=locked)
    patient.deleted_at = locked.deleted_at
    return locked

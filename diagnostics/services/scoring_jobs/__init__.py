"""Scoring jobs: a file of panels uploaded, checked whole, then scored (and stored) by workers chunk by chunk.

- ``upload``: reading and checking the file (mlcore's readers, through the one intake), starting the job;
- ``rows``: an accepted row as the job keeps it (``JobRow``);
- ``chunks``: the job's working files, its rows in chunks and each chunk's results part;
- ``worker``: claiming, splitting, scoring chunk by chunk in every idle worker, finishing;
- ``store``: a ``store`` job's chunk written as panels and predictions (the bulk writer shared with the UCI
  import, services/bulk_writes.py);
- ``results``: the results CSV, its preview (made while scoring) and the template.

The job life cycle (claim, heartbeat, healer) is services/jobs.py's; docs/ARCHITECTURE.md draws it.
"""

from diagnostics.services.scoring_jobs.results import result_csv_text, template_csv
from diagnostics.services.scoring_jobs.upload import UploadRejected, start_scoring_job
from diagnostics.services.scoring_jobs.worker import HELPER_TASK, ScoringFailed, help_scoring_job, process_scoring_job

__all__ = [
    "HELPER_TASK",
    "ScoringFailed",
    "UploadRejected",
    "help_scoring_job",
    "process_scoring_job",
    "result_csv_text",
    "start_scoring_job",
    "template_csv",
]

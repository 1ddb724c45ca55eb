"""WSGI entry point (gunicorn thyroweb.wsgi)."""

import os

# A web request scores one panel (or one bulk batch): BLAS thread pools only spin against the other
# gunicorn workers on the same cores. Set before numpy is first imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from thyroweb.home import prepare_home  # noqa: E402
from thyroweb.request_bodies import ChunkedBodyMiddleware  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")
prepare_home()  # the embedded default's folder and kept secret key, before the settings are read
# Chunked request bodies are read whole (with a Content-Length for Django) or refused, never taken as empty.
application = ChunkedBodyMiddleware(get_wsgi_application())

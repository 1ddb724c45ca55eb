"""The 500 page with the site's navigation (Django's own renders it without the request)."""

import logging

from django.http import HttpResponseServerError
from django.template import loader
from django.views.defaults import server_error as plain_server_error

logger = logging.getLogger(__name__)


def server_error(request):
    """Render templates/500.html with the request (navigation, language); if that fails too, the plain page."""
    try:
        return HttpResponseServerError(loader.render_to_string("500.html", request=request))
    except Exception as error:  # the error may be in what the navigation needs (the database, the session)
        logger.warning("500 page without navigation (%s)", type(error).__name__)
        return plain_server_error(request)

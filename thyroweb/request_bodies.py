"""WSGI middleware: a request body sent with ``Transfer-Encoding: chunked`` is read whole or refused.

Django sizes a request body by ``CONTENT_LENGTH`` alone: a chunked body (no Content-Length) reads as
empty, so a panel POSTed that way was stored and scored with no values at all. gunicorn de-chunks the
body and says so with ``wsgi.input_terminated``; this middleware reads it (up to the upload limit, in
memory up to FILE_UPLOAD_MAX_MEMORY_SIZE, then in a temporary file) and hands Django a body with its
Content-Length. A larger body is refused with 413; a chunked body from a server that cannot
de-chunk it is refused with 411 (Length Required). Neither is ever taken as empty.
"""

import json
import tempfile

from django.conf import settings

from diagnostics.middleware import max_request_bytes

READ_BYTES = 64 * 1024


def _refuse(environ, start_response, status: str, message: str):
    if environ.get("PATH_INFO", "").startswith("/api/"):
        body, content_type = json.dumps({"errors": {"body": [message]}}).encode(), "application/json"
    else:
        body, content_type = message.encode(), "text/plain; charset=utf-8"
    start_response(
        status, [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Connection", "close")]
    )
    return [body]


class ChunkedBodyMiddleware:
    """Wrap the WSGI application: chunked request bodies get a Content-Length, or a 411/413."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return self.application(environ, start_response)
        if not environ.get("wsgi.input_terminated"):
            return _refuse(
                environ, start_response, "411 Length Required", "Send the body with a Content-Length header."
            )
        limit = max_request_bytes()
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        stream, size = environ["wsgi.input"], 0
        while chunk := stream.read(min(READ_BYTES, limit + 1 - size)):
            size += len(chunk)
            if size > limit:
                body.close()
                message = f"The request body has more than {limit} bytes; at most {limit} are accepted."
                return _refuse(environ, start_response, "413 Request Entity Too Large", message)
            body.write(chunk)
        body.seek(0)
        environ = {**environ, "wsgi.input": body, "CONTENT_LENGTH": str(size)}
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        try:
            result = self.application(environ, start_response)
        except BaseException:
            body.close()
            raise
        return _ClosingBody(result, body)


class _ClosingBody:
    """The application's response iterable, closing the spooled body with it (PEP 3333 ``close``)."""

    def __init__(self, result, body):
        self._result, self._body = result, body

    def __iter__(self):
        return iter(self._result)

    def close(self):
        try:
            if hasattr(self._result, "close"):
                self._result.close()
        finally:
            self._body.close()

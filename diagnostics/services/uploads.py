"""Reading an uploaded file within the configured size limit (scoring files, training data files)."""

from django.conf import settings


def read_within_limit(uploaded_file) -> bytes | None:
    """The file's bytes from the start, or None when it is larger than THYROWEB_MAX_UPLOAD_BYTES
    (never more than the limit plus one byte is read)."""
    limit = settings.THYROWEB_MAX_UPLOAD_BYTES
    uploaded_file.seek(0)
    content = uploaded_file.read(limit + 1)
    if isinstance(content, str):
        content = content.encode()
    return None if len(content) > limit else content

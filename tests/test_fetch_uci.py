"""`manage.py fetch_uci`: download, verify and unpack the UCI archive; a clear error when offline."""

import hashlib
import http.server
import io
import threading
import zipfile

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def archive_server():
    """Serve zip payloads on loopback: server.payload = bytes; yields the URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(server.payload)))
            self.end_headers()
            self.wfile.write(server.payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.payload = b""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("thyroid0387.data", text)
        archive.writestr("thyroid0387.names", "names")
    return buffer.getvalue()


def archive_of(dev_data_file, records: int) -> str:
    lines = dev_data_file.read_text().splitlines()
    out = []
    for n in range(records):
        body = lines[n % len(lines)].rsplit("[", 1)[0]
        out.append(f"{body}[{870000000 + n}]")
    return "\n".join(out) + "\n"


def url_of(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/thyroid.zip"


def test_fetch_verifies_and_unpacks_the_archive(archive_server, dev_data_file, tmp_path):
    archive_server.payload = zipped(archive_of(dev_data_file, 9172))
    digest = hashlib.sha256(archive_server.payload).hexdigest()
    call_command("fetch_uci", url=url_of(archive_server), dest=str(tmp_path), sha256=digest)
    assert len((tmp_path / "thyroid0387.data").read_text().splitlines()) == 9172


def test_a_checksum_mismatch_writes_nothing(archive_server, dev_data_file, tmp_path):
    archive_server.payload = zipped(archive_of(dev_data_file, 9172))
    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("fetch_uci", url=url_of(archive_server), dest=str(tmp_path), sha256="0" * 64)
    assert not (tmp_path / "thyroid0387.data").exists()


def test_an_archive_with_the_wrong_record_count_is_refused(archive_server, dev_data_file, tmp_path):
    archive_server.payload = zipped(dev_data_file.read_text())
    with pytest.raises(CommandError, match="7303 valid records.*expected 9172"):
        call_command("fetch_uci", url=url_of(archive_server), dest=str(tmp_path))
    assert not (tmp_path / "thyroid0387.data").exists()


def test_something_that_is_not_a_zip_is_refused(archive_server, tmp_path):
    archive_server.payload = b"<html>maintenance</html>"
    with pytest.raises(CommandError, match="not the UCI thyroid archive"):
        call_command("fetch_uci", url=url_of(archive_server), dest=str(tmp_path))


def test_offline_fetch_fails_with_a_clear_message(tmp_path):
    # Port 9 (discard) on loopback has no server here: the connection is refused at once.
    with pytest.raises(CommandError, match="could not download .* may be offline"):
        call_command("fetch_uci", url="http://127.0.0.1:9/thyroid.zip", dest=str(tmp_path), timeout=5)

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mlcore.data import read_uci

UCI_ARCHIVE_URL = "https://archive.ics.uci.edu/static/public/102/thyroid+disease.zip"
EXPECTED_RECORDS = 9172
MEMBER = "thyroid0387.data"


class Command(BaseCommand):
    help = "Download the UCI thyroid archive, verify it and unpack thyroid0387.data into the data folder."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=UCI_ARCHIVE_URL)
        parser.add_argument("--dest", default=str(settings.THYROWEB_DATA_DIR), help="data folder")
        parser.add_argument("--sha256", default="", help="expected SHA-256 of the downloaded archive")
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, url: str, dest: str, sha256: str, timeout: float, **options):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                payload = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as problem:
            raise CommandError(
                f"could not download {url}: {getattr(problem, 'reason', problem)}. "
                "This machine may be offline: copy thyroid0387.data into "
                f"{dest} yourself, or set THYROWEB_DATA_DIR to a folder that has it."
            ) from None
        digest = hashlib.sha256(payload).hexdigest()
        self.stdout.write(f"downloaded {len(payload)} bytes, sha256 {digest}")
        if sha256 and digest != sha256.lower():
            raise CommandError(f"checksum mismatch: expected {sha256}, got {digest}; nothing written")
        try:
            archive = zipfile.ZipFile(io.BytesIO(payload))
            member = next(name for name in archive.namelist() if name.endswith(MEMBER))
            data = archive.read(member)
        except (zipfile.BadZipFile, StopIteration):
            raise CommandError(f"{url} is not the UCI thyroid archive (no {MEMBER} inside); nothing written") from None
        result = read_uci(io.StringIO(data.decode("latin-1")))
        if len(result.records) != EXPECTED_RECORDS or result.errors:
            raise CommandError(
                f"{MEMBER} has {len(result.records)} valid records and {len(result.errors)} bad lines; "
                f"expected {EXPECTED_RECORDS} and none; nothing written"
            )
        folder = Path(dest)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MEMBER).write_bytes(data)
        (folder / (MEMBER + ".sha256")).write_text(f"{hashlib.sha256(data).hexdigest()}  {MEMBER}\n")
        self.stdout.write(self.style.SUCCESS(f"{MEMBER} ({EXPECTED_RECORDS} records) saved in {folder}"))

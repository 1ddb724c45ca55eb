"""File storage in the database: every web and worker process, on any machine, reads what another one saved.

The default storage (settings.STORAGES["default"]) of uploads, batch-job working files, results files and
trained model archives. A name saved before this storage existed is still read from MEDIA_ROOT.
"""

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.deconstruct import deconstructible


@deconstructible
class DatabaseStorage(Storage):
    """Files as StoredFile rows (name, bytes); writes join the caller's transaction."""

    def _files(self):
        # Django resolves the storage class while it loads the apps, before the models may be imported.
        from diagnostics.models import StoredFile

        return StoredFile.objects

    def _legacy(self) -> FileSystemStorage:
        return FileSystemStorage()

    def _save(self, name: str, content) -> str:
        if hasattr(content, "seek"):
            content.seek(0)
        data = content.read()
        data = data.encode() if isinstance(data, str) else bytes(data)
        self._files().create(name=name, content=data, size=len(data))
        return name

    def _open(self, name: str, mode: str = "rb"):
        row = self._files().filter(name=name).values_list("content", flat=True).first()
        if row is None:
            legacy = self._legacy()
            if legacy.exists(name):
                return legacy.open(name, mode)
            raise FileNotFoundError(f"{name} is not stored")
        return ContentFile(bytes(row), name=name)

    def exists(self, name: str) -> bool:
        return self._files().filter(name=name).exists() or self._legacy().exists(name)

    def delete(self, name: str) -> None:
        self._files().filter(name=name).delete()
        legacy = self._legacy()
        if legacy.exists(name):
            legacy.delete(name)

    def size(self, name: str) -> int:
        size = self._files().filter(name=name).values_list("size", flat=True).first()
        return self._legacy().size(name) if size is None else size

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        folders, files = set(), []
        for name in self._files().filter(name__startswith=prefix).values_list("name", flat=True):
            rest = name[len(prefix) :]
            if "/" in rest:
                folders.add(rest.split("/", 1)[0])
            else:
                files.append(rest)
        legacy = self._legacy()
        if legacy.exists(path or "."):
            old_folders, old_files = legacy.listdir(path or ".")
            folders.update(old_folders)
            files.extend(name for name in old_files if name not in files)
        return sorted(folders), sorted(files)

    def url(self, name: str) -> str:
        raise NotImplementedError("stored files are served by the views that check access, never by URL")

    def path(self, name: str) -> str:
        raise NotImplementedError("stored files are in the database, not on a disk")

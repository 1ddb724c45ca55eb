"""French is complete: the catalogue has no empty or fuzzy translation, and every string of the interface is in it."""

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
SOURCES = ("diagnostics", "thyroweb", "templates", "mlcore")


def untranslated(po_text: str) -> list[str]:
    """The msgids of a .po text whose translation is empty or marked fuzzy (the header excepted)."""
    problems = []
    for block in re.split(r"\n\s*\n", po_text):
        lines = [line for line in block.strip().splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        fields: dict[str, str] = {}
        key = None
        for line in lines:
            if line.startswith("#"):
                continue
            match = re.match(r'(msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if match:
                key = match.group(1)
                fields[key] = match.group(2)
            elif line.startswith('"') and key:
                fields[key] += line.strip()[1:-1]
        if not fields.get("msgid"):
            continue  # the header
        translations = [value for name, value in fields.items() if name.startswith("msgstr")]
        if fuzzy or not translations or not all(translations):
            problems.append(fields["msgid"])
    return problems


def test_the_check_spots_empty_and_fuzzy_translations():
    text = (
        'msgid ""\nmsgstr "Language: fr\\n"\n\n'
        'msgid "Done"\nmsgstr "Fait"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Guessed"\nmsgstr "Deviné"\n\n'
        'msgid "one"\nmsgid_plural "many"\nmsgstr[0] "un"\nmsgstr[1] ""\n\n'
        '#~ msgid "Old"\n#~ msgstr ""\n'
    )
    assert untranslated(text) == ["Empty", "Guessed", "one"]


def test_the_french_catalogue_has_no_empty_or_fuzzy_translation():
    assert untranslated(CATALOGUE.read_text(encoding="utf-8")) == []


@pytest.mark.slow
def test_every_interface_string_is_translated_into_french(tmp_path, settings, monkeypatch):
    """makemessages over a copy of the sources: a gettext string missing from the catalogue shows up empty."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.skip("gettext (xgettext, msgmerge) is not installed")
    base = Path(settings.BASE_DIR)
    for name in SOURCES:
        shutil.copytree(base / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "default_model"))
    shutil.copytree(base / "locale", tmp_path / "locale")
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["fr"], no_obsolete=True, verbosity=0)
    extracted = (tmp_path / "locale" / "fr" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    missing = untranslated(extracted)
    assert missing == [], f"{len(missing)} interface strings have no French translation: {missing[:20]}"

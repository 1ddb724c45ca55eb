#!/usr/bin/env python
"""Django's command-line utility for ThyroWeb."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thyroweb.settings")
    from django.core.management import execute_from_command_line

    from thyroweb.home import prepare_home

    prepare_home()  # the embedded default's folder and kept secret key, before the settings are read

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

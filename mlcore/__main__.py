"""``python -m mlcore train|evaluate|predict``."""

import sys

from mlcore.cli import main

sys.exit(main())

"""``python -m fsvae_cli ...``: the ``fsvae`` command."""

import sys

from fsvae_cli.main import main

sys.exit(main())

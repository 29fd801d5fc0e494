"""``python -m fsvae_core.cli ...``: kept so that scripts that run the command by this module path go on working.

The command line lives in :mod:`fsvae_cli` (the ``fsvae`` command), above
``fsvae_core`` and ``realtime``; this module imports it only when called, so
``fsvae_core`` never depends on the live system.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """The ``fsvae`` command (:func:`fsvae_cli.main.main`)."""
    from fsvae_cli.main import main as fsvae_main

    return fsvae_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""The command line, above the method (:mod:`fsvae_core`), the pose calibration and the live system (:mod:`realtime`).

``fsvae`` is :func:`fsvae_cli.main.main`; each command group has its module
(``train``, ``actions``, ``recognize``, ``live``), which adds its sub-parsers
and handles them. Every module here imports only the standard library at
import time; torch, MediaPipe, sentence-transformers and OpenCV load inside the
handlers, so ``fsvae --help`` and a mistyped option answer at once.

``python -m fsvae_cli`` runs the same command; ``python -m fsvae_core.cli`` is
kept working for scripts written before this package existed.
"""

"""Shared test helpers (not tests): data sets, the CLI runners, a real Label Studio server, service fixtures.

Test modules import from here (``from helpers.data import TELECOM_ROWS``), never from each other or from
``conftest``; the fixtures themselves live in ``tests/conftest.py``.
"""

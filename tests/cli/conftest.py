"""Fixtures of the command-line tests: the jobflow-remote project factory of tests/remote."""

from tests.remote.conftest import make_project

__all__ = ["make_project"]

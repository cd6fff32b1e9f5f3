"""The platform suite (tests/e2e/platform_suite.py) with the committed prod stack file."""

from tests.e2e.platform_suite import suite

STACK = "prod"
globals().update(suite(STACK))  # its `project` fixture and the tests that run on prod

from tests.integration.conftest import aws, settings  # noqa: F401 - shared fixtures

import pytest

from models import Order, User

# Enable DataFlow's pytest plugin: it provides dataflow_url, dataflow_db,
# dataflow_isolated and the other fixtures used by these tests.
pytest_plugins = ["dataflow.testing"]


@pytest.fixture(scope="session")
def dataflow_models():
    # Every DataFlow instance the plugin creates gets these models and their tables.
    # Session scope, so that module- and session-scoped DataFlow fixtures can use it too.
    return [User, Order]

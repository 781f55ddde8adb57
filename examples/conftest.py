import pytest

from models import Order, User

# Enable DataFlow's pytest plugin: it provides dataflow_url, dataflow_db,
# dataflow_isolated and the other fixtures used by these tests.
pytest_plugins = ["dataflow.testing"]


@pytest.fixture
def dataflow_models():
    # Every DataFlow instance the plugin creates gets these models and their tables.
    return [User, Order]

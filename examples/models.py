"""Plain model classes for the example suites.

They are ordinary annotated classes: the ``dataflow_models`` fixture in conftest.py hands them to
the plugin, which registers them on every new DataFlow instance and creates their tables.
"""

from dataflow import Field


class User:
    id: int
    name: str
    email: str = Field(unique=True)
    active: bool = True


class Order:
    id: int
    user_id: int
    total: float
    status: str = "pending"

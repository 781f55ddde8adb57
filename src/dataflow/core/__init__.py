"""The module paths kailash-dataflow code imports from (``dataflow.core.config``, ...)."""

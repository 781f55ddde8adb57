"""``from dataflow.core.config import ErrorEnhancerConfig, PerformanceMode`` (kailash-dataflow's path)."""

from .._enhancer import ErrorEnhancerConfig, PerformanceMode

__all__ = ["ErrorEnhancerConfig", "PerformanceMode"]

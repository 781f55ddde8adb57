"""``from dataflow.core.error_enhancer import ErrorEnhancer`` (kailash-dataflow's path)."""

from .._enhancer import ErrorEnhancer, ErrorEnhancerConfig, PerformanceMode

__all__ = ["ErrorEnhancer", "ErrorEnhancerConfig", "PerformanceMode"]

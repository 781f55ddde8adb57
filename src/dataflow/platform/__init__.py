"""Developer tools: the :class:`Inspector` and what it returns.

```python
from dataflow.platform.inspector import Inspector  # also: from dataflow import Inspector
```
"""

from ._perf import NodeEstimate, NodeTiming, PerformanceReport, Profile
from ._results import (
    ChainList,
    ConnectionChain,
    ConnectionInfo,
    ConnectionList,
    CycleList,
    DependencyMap,
    Issue,
    Text,
)
from ._signature import NodeInfo, NodeList, OutputInfo, ParameterInfo
from ._traces import ParameterLineage, ParameterSource, ParameterTrace, ValidationResult
from .inspector import Inspector

__all__ = [
    "ChainList",
    "ConnectionChain",
    "ConnectionInfo",
    "ConnectionList",
    "CycleList",
    "DependencyMap",
    "Inspector",
    "Issue",
    "NodeEstimate",
    "NodeInfo",
    "NodeList",
    "NodeTiming",
    "OutputInfo",
    "ParameterInfo",
    "ParameterLineage",
    "ParameterSource",
    "ParameterTrace",
    "PerformanceReport",
    "Profile",
    "Text",
    "ValidationResult",
]

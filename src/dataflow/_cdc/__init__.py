"""Change data capture: change feeds (``db.change_feed(...)``) and ``ChangeDataCaptureNode``.

``_events`` holds what a feed delivers and the parameter checks, ``_feed`` the feed (create, read,
acknowledge, stream, drop), ``_node`` the node, ``_health`` what ``dataflow doctor`` and metrics
report. The backend's :class:`~dataflow._dialects.ChangeCapture` records and reads the changes.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._calls import ChangeFeedCalls

if TYPE_CHECKING:
    from ._events import OPERATIONS, ChangeEvent, ChangePosition
    from ._feed import FEEDS_TABLE, ChangeFeed, find_model
    from ._health import FeedStatus, change_feed_status
    from ._node import ChangeDataCaptureNode, bound_builtin, bound_node

#: Imported on first use (``import dataflow`` does not load change capture); ``_node`` registers
#: ``ChangeDataCaptureNode`` when the registry first resolves the name.
_LAZY = {
    "OPERATIONS": "._events",
    "ChangeEvent": "._events",
    "ChangePosition": "._events",
    "FEEDS_TABLE": "._feed",
    "ChangeFeed": "._feed",
    "find_model": "._feed",
    "FeedStatus": "._health",
    "change_feed_status": "._health",
    "ChangeDataCaptureNode": "._node",
    "bound_builtin": "._node",
    "bound_node": "._node",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "FEEDS_TABLE",
    "OPERATIONS",
    "ChangeDataCaptureNode",
    "ChangeFeedCalls",
    "ChangeEvent",
    "ChangeFeed",
    "ChangePosition",
    "FeedStatus",
    "bound_builtin",
    "bound_node",
    "change_feed_status",
    "find_model",
]

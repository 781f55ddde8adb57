"""Change data capture: change feeds (``db.change_feed(...)``) and ``ChangeDataCaptureNode``.

``_events`` holds what a feed delivers and the parameter checks, ``_feed`` the feed (create, read,
acknowledge, stream, drop), ``_node`` the node, ``_health`` what ``dataflow doctor`` and metrics
report. The backend's :class:`~dataflow._dialects.ChangeCapture` records and reads the changes.
"""

from .._nodes import register_builtin
from ._calls import ChangeFeedCalls
from ._events import OPERATIONS, ChangeEvent, ChangePosition
from ._feed import FEEDS_TABLE, ChangeFeed, find_model
from ._health import FeedStatus, change_feed_status
from ._node import ChangeDataCaptureNode, bound_builtin, bound_node

register_builtin(ChangeDataCaptureNode)

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

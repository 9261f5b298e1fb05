"""Where normalized results go besides the local store: InfluxDB (v2 and v1 APIs), with a fake for tests.

The local store (results/<run-id>/) is the source of truth; a sink is a replica that ``push_run`` can
re-fill from it at any time (see ``crossload.sinks.spool``).
"""

from crossload.sinks.base import MemorySink, Sink, SinkRejected, SinkUnavailable
from crossload.sinks.influx import InfluxV1Sink, InfluxV2Sink, sink_from_env
from crossload.sinks.lineprotocol import Point, RunTags, interval_points, run_point, threshold_points, to_line
from crossload.sinks.spool import LivePusher, PushReport, Spool, push_run

__all__ = [
    "InfluxV1Sink",
    "InfluxV2Sink",
    "LivePusher",
    "MemorySink",
    "Point",
    "PushReport",
    "RunTags",
    "Sink",
    "SinkRejected",
    "SinkUnavailable",
    "Spool",
    "interval_points",
    "push_run",
    "run_point",
    "sink_from_env",
    "threshold_points",
    "to_line",
]

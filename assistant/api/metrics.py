"""Prometheus metrics: requests by route and status, latencies, retrieval and generation time,
streams stopped by clients, index size. With several worker processes the values live in
files under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``assistant serve --workers N``) and a scrape
of any worker reports the sum over all of them."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REGISTRY = CollectorRegistry()
REQUESTS = Counter("assistant_http_requests_total", "HTTP requests", ["route", "method", "status"],
                   registry=REGISTRY)
LATENCY = Histogram("assistant_http_request_duration_seconds", "HTTP request latency", ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=REGISTRY)
RETRIEVAL = Histogram("assistant_retrieval_seconds", "time to retrieve passages",
                      buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1), registry=REGISTRY)
GENERATION = Histogram("assistant_generation_seconds", "time to produce an answer", ["backend"],
                       buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=REGISTRY)
STREAMS_STOPPED = Counter("assistant_streams_stopped_total", "answer streams stopped because the client left",
                          registry=REGISTRY)
INDEX_CHUNKS = Gauge("assistant_index_chunks", "passages in the live index", registry=REGISTRY,
                     multiprocess_mode="mostrecent")
INDEX_BUILDS = Counter("assistant_index_builds_total", "index rebuilds triggered through the API", ["result"],
                       registry=REGISTRY)


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        MultiProcessCollector(combined)
        return generate_latest(combined)
    return generate_latest(REGISTRY)

"""A small system nobody here wrote, traced with the OpenTelemetry Python SDK.

Three services run as threads, each with its own tracer provider (its own
`service.name`), calling each other through queues with the W3C trace
context: frontend/Home works, calls catalog/List and pricing/Quote in
parallel, then catalog/Get; pricing/Quote calls a Redis nobody traced (a
CLIENT span only). The finished spans are written, by this program, as
OTLP/JSON lines, Jaeger JSON, Zipkin v2 JSON, a CSV span table with kinds,
and a CSV table without kinds whose columns are named otherwise.

Usage: otel_app.py OUT_DIR [REQUESTS]
"""

import csv
import json
import os
import queue
import random
import sys
import threading
import time

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

EXPORTER = InMemorySpanExporter()


def tracer(service):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    return provider.get_tracer("otel_app")


class Service:
    """A service: one thread serving requests from its queue."""

    def __init__(self, name, handlers):
        self.name = name
        self.tracer = tracer(name)
        self.handlers = handlers
        self.inbox = queue.Queue()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            endpoint, carrier, reply = self.inbox.get()
            ctx = propagate.extract(carrier)
            with self.tracer.start_as_current_span(endpoint, context=ctx, kind=SpanKind.SERVER):
                self.handlers[endpoint](self)
            reply.put(True)


def work(ms):
    time.sleep(random.uniform(0.8, 1.2) * ms / 1000.0)


def call(caller, callee, endpoint):
    """A CLIENT span around a request to `callee`, waiting for its answer."""
    with caller.tracer.start_as_current_span(f"{callee.name}/{endpoint}", kind=SpanKind.CLIENT):
        carrier = {}
        propagate.inject(carrier)
        reply = queue.Queue()
        callee.inbox.put((endpoint, carrier, reply))
        reply.get()


def parallel(caller, calls):
    """Calls made at once from threads of the caller, each in the caller's context."""
    ctx = context.get_current()

    def run(callee, endpoint):
        token = context.attach(ctx)
        try:
            call(caller, callee, endpoint)
        finally:
            context.detach(token)

    threads = [threading.Thread(target=run, args=c) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def quote(svc):
    work(1)
    with svc.tracer.start_as_current_span(
        "GET", kind=SpanKind.CLIENT, attributes={"db.system": "redis", "db.operation": "GET"}
    ):
        work(1)


catalog = Service("catalog", {"List": lambda s: work(3), "Get": lambda s: work(1)})
pricing = Service("pricing", {"Quote": quote})


def home(svc):
    work(2)
    parallel(svc, [(catalog, "List"), (pricing, "Quote")])
    call(svc, catalog, "Get")


frontend = Service("frontend", {"Home": home})


def hexid(n, width):
    return format(n, f"0{width}x")


def main():
    out = sys.argv[1]
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    client = tracer("shopper")
    for _ in range(requests):
        with client.start_as_current_span("Home", kind=SpanKind.CLIENT):
            carrier = {}
            propagate.inject(carrier)
            reply = queue.Queue()
            frontend.inbox.put(("Home", carrier, reply))
            reply.get()
        time.sleep(0.005)
    spans = EXPORTER.get_finished_spans()
    os.makedirs(out, exist_ok=True)
    write_otlp(spans, os.path.join(out, "otlp.jsonl"))
    write_jaeger(spans, os.path.join(out, "jaeger.json"))
    write_zipkin(spans, os.path.join(out, "zipkin.json"))
    write_csv(spans, os.path.join(out, "spans.csv"), kinds=True)
    write_csv(spans, os.path.join(out, "kindless.csv"), kinds=False)


def common(s):
    return {
        "trace": hexid(s.context.trace_id, 32),
        "span": hexid(s.context.span_id, 16),
        "parent": hexid(s.parent.span_id, 16) if s.parent else None,
        "service": s.resource.attributes["service.name"],
    }


KIND_NUMBER = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3}
KIND_WORD = {SpanKind.INTERNAL: "INTERNAL", SpanKind.SERVER: "SERVER", SpanKind.CLIENT: "CLIENT"}


def write_otlp(spans, path):
    """OTLP/JSON lines: each line one TracesData of up to 50 spans, by resource."""
    with open(path, "w") as f:
        for i in range(0, len(spans), 50):
            by_service = {}
            for s in spans[i : i + 50]:
                c = common(s)
                span = {
                    "traceId": c["trace"],
                    "spanId": c["span"],
                    "name": s.name,
                    "kind": KIND_NUMBER[s.kind],
                    "startTimeUnixNano": str(s.start_time),
                    "endTimeUnixNano": str(s.end_time),
                    "attributes": [
                        {"key": k, "value": {"stringValue": str(v)}} for k, v in s.attributes.items()
                    ],
                }
                if c["parent"]:
                    span["parentSpanId"] = c["parent"]
                by_service.setdefault(c["service"], []).append(span)
            data = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
                        "scopeSpans": [{"scope": {"name": "otel_app"}, "spans": ss}],
                    }
                    for svc, ss in by_service.items()
                ]
            }
            f.write(json.dumps(data) + "\n")


def write_jaeger(spans, path):
    traces = {}
    for s in spans:
        c = common(s)
        t = traces.setdefault(c["trace"], {"traceID": c["trace"], "spans": [], "processes": {}})
        pid = "p-" + c["service"]
        t["processes"][pid] = {"serviceName": c["service"], "tags": []}
        tags = [{"key": "span.kind", "type": "string", "value": KIND_WORD[s.kind].lower()}]
        tags += [{"key": k, "type": "string", "value": str(v)} for k, v in s.attributes.items()]
        t["spans"].append(
            {
                "traceID": c["trace"],
                "spanID": c["span"],
                "operationName": s.name,
                "references": [{"refType": "CHILD_OF", "traceID": c["trace"], "spanID": c["parent"]}]
                if c["parent"]
                else [],
                "startTime": s.start_time // 1000,
                "duration": (s.end_time - s.start_time) // 1000,
                "tags": tags,
                "processID": pid,
            }
        )
    with open(path, "w") as f:
        json.dump({"data": list(traces.values()), "total": 0, "limit": 0, "offset": 0, "errors": None}, f, indent=1)


def write_zipkin(spans, path):
    out = []
    for s in spans:
        c = common(s)
        z = {
            "traceId": c["trace"],
            "id": c["span"],
            "name": s.name,
            "timestamp": s.start_time // 1000,
            "duration": (s.end_time - s.start_time) // 1000,
            "localEndpoint": {"serviceName": c["service"]},
            "tags": {k: str(v) for k, v in s.attributes.items()},
        }
        if s.kind in (SpanKind.SERVER, SpanKind.CLIENT):
            z["kind"] = KIND_WORD[s.kind]
        if c["parent"]:
            z["parentId"] = c["parent"]
        out.append(z)
    with open(path, "w") as f:
        json.dump(out, f)


def write_csv(spans, path, kinds):
    """A span table; without kinds the operation column is `rpc_name` and
    services are only known from pod names (`frontend-5c7d8f9b4-x2x4z`)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if kinds:
            w.writerow(["TraceID", "SpanID", "ParentID", "ServiceName", "PodName", "OperationName",
                        "SpanKind", "PeerService", "StartTimeUnixNano", "EndTimeUnixNano", "Duration"])
        else:
            w.writerow(["TraceID", "SpanID", "ParentID", "PodName", "rpc_name",
                        "StartTimeUnixNano", "EndTimeUnixNano", "Duration"])
        for s in spans:
            c = common(s)
            pod = c["service"] + "-5c7d8f9b4-x2x4z"
            row = [c["trace"], c["span"], c["parent"] or ""]
            if kinds:
                peer = ""
                if s.kind == SpanKind.CLIENT:
                    peer = s.attributes.get("db.system") or s.name.split("/")[0]
                row += [c["service"], pod, s.name, KIND_WORD[s.kind], peer]
            else:
                row += [pod, s.name]
            row += [s.start_time, s.end_time, s.end_time - s.start_time]
            w.writerow(row)


if __name__ == "__main__":
    main()

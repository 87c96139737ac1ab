"""An independent OTLP exporter: the OpenTelemetry Python SDK sends a parent
and a child span to the collector at argv[1] (http://host:port), then exits.
Prints the trace id it used."""
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "py-sdk"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1], insecure=True)))
tracer = provider.get_tracer("topolab-test")
with tracer.start_as_current_span("py-parent", kind=trace.SpanKind.SERVER) as parent:
    with tracer.start_as_current_span("py-child", kind=trace.SpanKind.CLIENT):
        pass
    print(format(parent.get_span_context().trace_id, "032x"), flush=True)
provider.shutdown()

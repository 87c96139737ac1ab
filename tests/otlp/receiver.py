"""An independent OTLP/gRPC receiver (grpcio + the opentelemetry-proto Python
package): prints its port, then appends one line per span it receives
("<trace id hex> <span name>") to the file argv[1]. Stops after argv[2]
seconds at most."""
import sys
import threading
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

out_path, limit = sys.argv[1], float(sys.argv[2])
lock = threading.Lock()


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        lines = []
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    lines.append(f"{span.trace_id.hex()} {span.name}\n")
        with lock, open(out_path, "a") as f:
            f.writelines(lines)
        return trace_service_pb2.ExportTraceServiceResponse()


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination(timeout=limit)

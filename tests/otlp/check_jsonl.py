"""Reads a traces.jsonl with the OpenTelemetry Python types, independently of
topolab: every line must parse as one OTLP/JSON `TracesData` (unknown fields
refused). Prints the lines and spans read; exit 1 naming the first bad line."""

import sys

from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData


def main(path):
    lines = spans = 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            data = TracesData()
            try:
                json_format.Parse(line, data)
            except json_format.ParseError as e:
                print(f"{path}:{number}: not TracesData: {e}", file=sys.stderr)
                return 1
            lines += 1
            spans += sum(len(ss.spans) for rs in data.resource_spans for ss in rs.scope_spans)
    print(lines, spans)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

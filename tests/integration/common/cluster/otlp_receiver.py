"""A small OTLP trace receiver for the trace test: OTLP/HTTP (protobuf) and OTLP/gRPC.

It decodes real OTLP requests with the published protobuf classes (the `opentelemetry-proto`
package from PyPI, and `grpcio` for the gRPC service) and appends one JSON line per span to
OUT: the transport it came by, its ids, name, kind, attributes and its resource's attributes.

    python otlp_receiver.py OUT

Listens on two ports the system picks (so no other test can take them between a choice and the
bind) and prints "ready HTTP_PORT GRPC_PORT" once both are up; stops on SIGTERM/SIGINT.
"""

import json
import signal
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

LOCK = threading.Lock()


def value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


def attrs(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


def record(out, request, transport):
    lines = []
    for rs in request.resource_spans:
        resource = attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                lines.append(
                    json.dumps(
                        {
                            "transport": transport,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "attributes": attrs(span.attributes),
                            "resource": resource,
                        }
                    )
                )
    with LOCK:
        with open(out, "a", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")


def http_handler(out):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces" or "protobuf" not in self.headers.get("Content-Type", ""):
                self.send_response(404)
                self.end_headers()
                return
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            record(out, request, "http/protobuf")
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    return Handler


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, out):
        self.out = out

    def Export(self, request, context):
        record(self.out, request, "grpc")
        return trace_service_pb2.ExportTraceServiceResponse()


def main():
    out = sys.argv[1]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), http_handler(out))
    http_port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(out), server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"ready {http_port} {grpc_port}", flush=True)
    stop.wait()
    server.stop(0)
    httpd.shutdown()


if __name__ == "__main__":
    main()

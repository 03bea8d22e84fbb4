#!/usr/bin/env python3
"""Ask a running sidecar one metered check: python3 examples/check.py CUSTOMER FEATURE [HOST:PORT]

Needs grpcio and grpcio-tools (pip) or Debian's python3-grpcio + python3-protobuf with protoc; the stubs are generated
from protos/ into a temporary folder on first use.
"""
import os, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(tempfile.gettempdir(), "stigg-sidecar-py")
if not os.path.exists(os.path.join(out, "stigg", "sidecar", "v1", "sidecar_pb2.py")):
    os.makedirs(out, exist_ok=True)
    subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(root, "protos"),
                           "--python_out=" + out, "--grpc_python_out=" + out, "stigg/sidecar/v1/sidecar.proto"])
sys.path.insert(0, out)

import grpc  # noqa: E402
from stigg.sidecar.v1 import sidecar_pb2 as pb, sidecar_pb2_grpc as rpc  # noqa: E402

customer, feature = sys.argv[1], sys.argv[2]
target = sys.argv[3] if len(sys.argv) > 3 else "localhost:50051"
stub = rpc.SidecarServiceStub(grpc.insecure_channel(target))
r = stub.GetMeteredEntitlement(pb.GetMeteredEntitlementRequest(
    customer_id=customer, feature_id=feature, options=pb.MeteredEntitlementOptions(requested_usage=1)))
print(f"has_access={r.has_access} is_fallback={r.is_fallback} "
      f"usage={r.entitlement.current_usage}/{r.entitlement.usage_limit} reason={pb.AccessDeniedReason.Name(r.access_denied_reason)}")

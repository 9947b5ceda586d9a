"""Python modules of the clustercode gRPC API, made by tools/generate-proto from proto/.

Import the messages and stubs of a version from its package, e.g.
``from clustercode.api.v1 import service_pb2, service_pb2_grpc``. The modules under ``v1/`` are
regenerated, never edited by hand.
"""

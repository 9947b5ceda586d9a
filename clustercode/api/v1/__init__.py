"""clustercode.v1: messages (``jobs_pb2``, ``library_pb2``, ``service_pb2``) and the
ClustercodeService stub and servicer base (``service_pb2_grpc``)."""

"""The clustercode terminal UI: a client of the gRPC API and nothing else."""

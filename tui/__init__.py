"""clustercode's terminal UI: a Textual client of the clustercode.v1 gRPC API and nothing else.

Run it with ``python -m tui [--address HOST:PORT] [--token-file FILE]``. It shows the server's
status, the jobs (filtered by state, paged, kept live by the WatchJobs stream), one job's slices
with their progress, and lets the user cancel, retry and delete jobs and scan the library.
"""

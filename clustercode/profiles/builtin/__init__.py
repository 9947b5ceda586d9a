"""The profiles clustercode ships: ``h264``, ``hevc``, ``av1`` and ``ffv1`` (YAML data files)."""

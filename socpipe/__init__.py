"""socpipe: the spine (CLI, configuration, event and alert schemas, agency registry)."""

"""Local Kafka and OpenSearch for development and tests: `socpipe dev up | down | status`."""

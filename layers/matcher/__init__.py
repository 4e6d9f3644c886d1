"""The matcher every job shares: log-source routing, the literal prefilter, field batches, two reference paths."""

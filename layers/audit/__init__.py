"""Layer 3: independent assessment. Compliance queries over the lake (the record), reproducible byte for
byte for the same lake and --as-of, with a manifest of every lake file read (see layers/audit/job.py)."""

"""The web console of `socpipe serve`: analysts triage, agency contacts see their own agency, auditors read."""

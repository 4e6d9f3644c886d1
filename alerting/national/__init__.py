"""Layer-4 exporters: STIX 2.1 bundles, JSON and syslog lines, the Mẫu 03 / Mẫu 04 forms, and transports."""

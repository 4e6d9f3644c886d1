"""Grafana dashboards as code: panel targets, the dashboards, their provisioning and publishing."""

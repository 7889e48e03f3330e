"""Hyper-Bun demo service: a small HTTP service with injectable faults, used to exercise canary deployments."""

SERVICE_NAME = "hyperbun-demo"

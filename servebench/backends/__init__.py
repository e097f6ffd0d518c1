"""Systems under test: how to start each server, await its readiness, find it, and stop it."""

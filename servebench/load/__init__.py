"""The load generator's parts that run inside Locust: options, users, the request recorder."""

"""soak: --sb-users users for a long time (bench's default for this scenario is 10 minutes),
to show drift: memory growth, latency creep, errors that only come with time."""

import steady  # Locust puts this folder on sys.path while it loads a scenario


class Soak(steady.Steady):
    pass

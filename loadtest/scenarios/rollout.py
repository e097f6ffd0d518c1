"""rollout: steady open-loop load at half the target's knee while `servebench bench --scenario
rollout` rolls version 2 of the model out and back (TF Serving: the version folder; TorchServe:
the management API). Every reply is matched against each version's output (--sb-expected), so
each request counts as answered by v1 or v2, wrong, or failed."""

import steady  # Locust puts this folder on sys.path while it loads a scenario


class Rollout(steady.Steady):
    pass

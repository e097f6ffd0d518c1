"""overload: open loop around --sb-rate, the target's knee: half of it, then 1.5x and 3x for one
step each, then half again to watch the recovery (it sets --sb-rate-shape overload). What the
server does with the excess, shedding or queueing, shows in the errors by kind and the latency
of each step."""

import steady  # Locust puts this folder on sys.path while it loads a scenario
from locust import events


class Overload(steady.Steady):
    pass


@events.init.add_listener
def _follow_the_overload_shape(environment, **_) -> None:
    options = environment.parsed_options
    if options is not None and not options.sb_rate_shape:
        options.sb_rate_shape = "overload"

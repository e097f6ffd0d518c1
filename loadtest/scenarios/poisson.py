"""poisson: open-loop arrivals at --sb-rate per second for --sb-duration seconds.

--sb-users users each launch requests on their own Poisson schedule (rate / users), whether or
not earlier replies have arrived, and latency is measured from each scheduled send time.
"""

import steady  # Locust puts this folder on sys.path while it loads a scenario


class Poisson(steady.Steady):
    def tick(self):
        if self.runner.environment.parsed_options.sb_rate <= 0:
            raise SystemExit("the poisson scenario needs --sb-rate (arrivals per second)")
        return super().tick()

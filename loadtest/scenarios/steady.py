"""steady: --sb-users users for --sb-duration seconds (all started at once). With --sb-rate
(open loop), they stay --sb-drain seconds longer for the replies still in flight."""

from locust import LoadTestShape


class Steady(LoadTestShape):
    def tick(self):
        options = self.runner.environment.parsed_options
        drain = options.sb_drain if options.sb_rate > 0 else 0.0
        if self.get_run_time() >= options.sb_duration + drain:
            return None
        return options.sb_users, options.sb_users

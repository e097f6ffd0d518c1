"""steady: --sb-users users for --sb-duration seconds (all started at once)."""

from locust import LoadTestShape


class Steady(LoadTestShape):
    def tick(self):
        options = self.runner.environment.parsed_options
        if self.get_run_time() >= options.sb_duration:
            return None
        return options.sb_users, options.sb_users

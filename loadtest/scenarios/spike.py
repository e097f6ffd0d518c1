"""spike: --sb-users users, then --sb-spike-users for one step (--sb-step-seconds) in the
middle of --sb-duration, then back."""

from locust import LoadTestShape

from servebench.load.shapes import spike, users_at


class Spike(LoadTestShape):
    def tick(self):
        options = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if run_time >= options.sb_duration:
            return None
        users = users_at(spike(options), run_time, options.sb_users)
        return users, users

"""spike: --sb-users users, then --sb-spike-users for one step (--sb-step-seconds) in the
middle of --sb-duration, then back."""

from locust import LoadTestShape


class Spike(LoadTestShape):
    def tick(self):
        options = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if run_time >= options.sb_duration:
            return None
        spike_start = (options.sb_duration - options.sb_step_seconds) / 2
        if spike_start <= run_time < spike_start + options.sb_step_seconds:
            return options.sb_spike_users, options.sb_spike_users
        return options.sb_users, options.sb_users

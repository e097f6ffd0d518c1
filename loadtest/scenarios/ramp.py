"""ramp: after --sb-warmup seconds at the first step's load (not judged), add --sb-step-users
users every --sb-step-seconds until the p99 over the last seconds passes --sb-slo-ms, the
failure ratio passes --sb-error-budget, or --sb-duration runs out."""

from locust import LoadTestShape

from servebench.load.shapes import ramp, users_at


class Ramp(LoadTestShape):
    judging = False

    def tick(self):
        options = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if run_time >= options.sb_duration:
            return None
        if run_time >= options.sb_warmup and not self.judging:
            # Cold-start latencies must not end the ramp: judge only what follows the warm-up.
            self.runner.stats.reset_all()
            self.judging = True
        if self.judging and self._budget_broken(options):
            return None
        users = users_at(ramp(options), run_time, options.sb_step_users)
        return users, users

    def _budget_broken(self, options) -> bool:
        total = self.runner.stats.total
        if total.num_requests < 20:
            return False
        p99 = total.get_current_response_time_percentile(0.99) or 0.0
        return p99 > options.sb_slo_ms or total.fail_ratio > options.sb_error_budget

"""ramp: add --sb-step-users users every --sb-step-seconds until the p99 over the last step passes
--sb-slo-ms, the failure ratio passes --sb-error-budget, or --sb-duration runs out."""

from locust import LoadTestShape


class Ramp(LoadTestShape):
    def tick(self):
        options = self.runner.environment.parsed_options
        run_time = self.get_run_time()
        if run_time >= options.sb_duration or self._budget_broken(options):
            return None
        step = int(run_time // options.sb_step_seconds) + 1
        users = step * options.sb_step_users
        return users, users

    def _budget_broken(self, options) -> bool:
        total = self.runner.stats.total
        if total.num_requests < 20:
            return False
        p99 = total.get_current_response_time_percentile(0.99) or 0.0
        return p99 > options.sb_slo_ms or total.fail_ratio > options.sb_error_budget

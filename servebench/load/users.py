"""One Locust user class per target. REST users are FastHttpUsers; gRPC users fire Locust's
request events themselves. Closed loop by default: each user sends its next request as soon as
the reply arrives. With --sb-rate, each user instead launches requests on a Poisson schedule
(open loop), and their latency is measured from the scheduled send time. The schedule ends
--sb-duration seconds after the test starts; a request still in flight --sb-drain seconds
later is recorded as a failure of kind "timeout", so the slowest requests are never lost."""

from __future__ import annotations

import os
import random
import time
from functools import cache
from pathlib import Path

import gevent
import grpc.experimental.gevent as grpc_gevent
from gevent.pool import Group
from locust import FastHttpUser, User, constant, events, tag, task
from locust.runners import MasterRunner

from servebench.clients import ClientError, client_options, make_client, stack_targets
from servebench.load.answers import AnswerKey
from servebench.load.recorder import LoadFailure, RequestRecorder
from servebench.load.shapes import rate_share_at, scenario_phases
from servebench.metrics.exporter import (
    announcement,
    wait_for_final_scrape,
    wait_until_scraped,
)
from servebench.metrics.prometheus import loadgen_discovery
from servebench.models import get_model
from servebench.payloads import PayloadPool
from servebench.request_log import mark_test_start
from servebench.stack_record import Stack
from servebench.target import Target

# Without this, gRPC calls block the whole process: one request at a time, latencies near zero.
grpc_gevent.init_gevent()


@cache
def read_stack(path: str) -> Stack:
    return Stack.load(path)


_POOLS: dict[tuple[str, str, int], PayloadPool] = {}


def _shared_pool(target: str, spec, rows: int, encoding: str, encode) -> PayloadPool:
    """One encoded pool per target, model and batch in this process. Encoding resnet18 as JSON
    takes about 0.5 s; paid by every user at its start, it would load the load generator just
    when a ramp step or a spike adds users."""
    key = (target, spec.name, rows, encoding)
    if key not in _POOLS:
        _POOLS[key] = PayloadPool.build(spec, encode, rows)
    return _POOLS[key]


class _TargetUser:
    """What every target shares: payloads, the loop mode, and the request check."""

    target = ""
    wait_time = constant(0)

    def setup_target(self) -> None:
        options = self.environment.parsed_options
        stack = read_stack(options.sb_stack)
        artifacts = stack.get("artifacts")  # where a user's model is described
        self.spec = get_model(options.sb_model, Path(artifacts) if artifacts else None)
        self.rows = options.sb_batch
        self.codec = make_client(
            self.target,
            stack,
            self.spec,
            **client_options(self.target, options.sb_encoding),
        )
        self.pool = _shared_pool(
            self.target, self.spec, self.rows, options.sb_encoding, self.codec.encode
        ).cursor()
        self.rate = options.sb_rate / max(options.sb_users, 1)
        self.rate_phases = scenario_phases(options.sb_rate_shape, options)
        self.max_outstanding = options.sb_max_outstanding
        self.drain_s = options.sb_drain
        self.hold_s = options.sb_hold_ms / 1000
        self.answers = AnswerKey.load(Path(options.sb_expected)) if options.sb_expected else None
        self.inflight = Group()
        self.pending: dict[int, dict] = {}  # open loop: the context of each request in flight

    def run_once(self) -> None:
        if self.rate > 0:
            self._open_loop()
        else:
            context = {"model": self.spec.name}
            self._hold(context)
            self.send_one(self.pool.next(), context)

    def _hold(self, context: dict) -> None:
        """The power check's known difference (--sb-hold-ms): each request waits before it is
        sent, and the wait counts in its latency, so that to every figure downstream this
        target's server is that much slower. An open-loop request's latency runs from its
        scheduled time, which already holds the wait."""
        if self.hold_s > 0:
            gevent.sleep(self.hold_s)
            if "scheduled_at" not in context:
                context["held_s"] = self.hold_s

    def _open_loop(self) -> None:
        rng = random.Random(os.getpid() * 7919 + id(self))
        send_until = getattr(self.environment, "sb_send_until", float("inf"))
        test_start = send_until - self.environment.parsed_options.sb_duration
        next_at = time.time()
        while (next_at := next_at + rng.expovariate(self._rate(next_at - test_start))) < send_until:
            delay = next_at - time.time()
            if delay > 0:
                gevent.sleep(delay)
            context = {"scheduled_at": next_at, "model": self.spec.name}
            if len(self.inflight) >= self.max_outstanding:
                self._fire(0.0, 0, LoadFailure("dropped", "too many requests in flight"), context)
                continue
            self.inflight.spawn(self._send_tracked, self.pool.next(), context)
        self.inflight.join(timeout=max(0.0, send_until + self.drain_s - time.time()))
        self._time_out_pending()
        gevent.sleep(float("inf"))  # the schedule is over: wait for the shape to stop this user

    def _rate(self, run_time: float) -> float:
        """This user's arrivals per second now: a Poisson process whose rate follows the rate
        shape's phases, if any."""
        return self.rate * rate_share_at(self.rate_phases, run_time)

    def _send_tracked(self, payload, context: dict) -> None:
        self.pending[id(context)] = context
        try:
            self._hold(context)
            self.send_one(payload, context)
        finally:
            self.pending.pop(id(context), None)

    def _time_out_pending(self) -> None:
        """Record every request still in flight as a timeout, then abandon it: a request left
        out of the log would leave out the slowest answers."""
        pending, self.pending = list(self.pending.values()), {}
        for context in pending:
            detail = f"no reply {self.drain_s:g} s after the schedule ended"
            self._fire(0.0, 0, LoadFailure("timeout", detail), context)
        self.inflight.kill(block=False)

    def _fire(self, millis: float, length: int, exception, context: dict) -> None:
        self.environment.events.request.fire(
            request_type=Target.parse(self.target).protocol.upper(),
            name=self.target,
            response_time=millis,
            response_length=length,
            exception=exception,
            context=context,
        )

    def check_answer(self, logits, context: dict) -> None:
        """With an answer key (a rollout), name in ``context`` the version that answered; an
        answer no version gives is wrong."""
        if self.answers is None:
            return
        version = self.answers.version(logits)
        if version is None:
            raise ClientError("BAD_REPLY", "the reply matches no model version's output")
        context["version"] = version

    def on_stop(self) -> None:
        self._time_out_pending()


class _RestUser(_TargetUser, FastHttpUser):
    abstract = True
    concurrency = 64  # connections per user: the open loop keeps many requests in flight

    def on_start(self) -> None:
        self.setup_target()
        self.url = self.codec.url()
        self.headers = {"Content-Type": getattr(self.codec, "content_type", "application/json")}

    def send_one(self, payload: bytes, context: dict) -> None:
        with self.client.request(
            "POST", self.url, data=payload, headers=self.headers, name=self.target,
            catch_response=True, context=context,
        ) as reply:  # fmt: skip
            if reply.status_code != 200:
                kind = f"HTTP {reply.status_code}" if reply.status_code else "connection error"
                reply.failure(LoadFailure(kind, (reply.text or "")[:200]))
                return
            try:
                logits = self.codec.decode(reply.content, self.rows)
                self.check_answer(logits, reply.request_meta["context"])
            except (ClientError, ValueError, KeyError) as exc:
                reply.failure(LoadFailure("wrong answer", str(exc)[:200]))
                return
            reply.success()


class _GrpcUser(_TargetUser, User):
    abstract = True

    def on_start(self) -> None:
        self.setup_target()

    def send_one(self, payload, context: dict) -> None:
        started = time.perf_counter()
        exception, length = None, 0
        try:
            reply = self.codec.send(payload)
            length = len(reply) if isinstance(reply, bytes) else reply.ByteSize()
            self.check_answer(self.codec.decode(reply, self.rows), context)
        except ClientError as exc:
            kind = "wrong answer" if exc.status == "BAD_REPLY" else exc.status
            exception = LoadFailure(kind, exc.message[:200])
        self._fire((time.perf_counter() - started) * 1000, length, exception, context)


def _predict_task(target: str):
    """The one task of a target's user, tagged with the target so --tags can pick it."""

    @tag(target)
    @task
    def predict(self) -> None:
        self.run_once()

    return predict


class TorchServeRestUser(_RestUser):
    target = "torchserve-rest"
    predict = _predict_task(target)


class TorchServeGrpcUser(_GrpcUser):
    target = "torchserve-grpc"
    predict = _predict_task(target)


class TFServingRestUser(_RestUser):
    target = "tfserving-rest"
    predict = _predict_task(target)


class TFServingGrpcUser(_GrpcUser):
    target = "tfserving-grpc"
    predict = _predict_task(target)


class DiyRestUser(_RestUser):
    """The diy baseline (`up --with-diy`); kept only where the stack runs it."""

    target = "diy-rest"
    predict = _predict_task(target)


def select_targets(environment) -> None:
    """Keep the user classes --sb-target names or, without it, those whose target --tags names.

    Locust filters tasks by tag only when the test starts, after this: a class left without a
    task would then be spawned anyway and crash, so the classes are chosen here."""
    options = environment.parsed_options
    wanted = {name.strip() for name in options.sb_target.split(",") if name.strip()}
    excluded = set(getattr(options, "exclude_tags", None) or ())
    if not wanted:
        wanted = set(getattr(options, "tags", None) or ())
    stack = read_stack(options.sb_stack)
    present = stack_targets(stack)
    kept = []
    for user_class in environment.user_classes:
        if (wanted and user_class.target not in wanted) or user_class.target in excluded:
            continue
        if user_class.target not in present:
            if wanted:
                raise SystemExit(
                    f"the stack has no {user_class.target}: start it with `up --with-diy`"
                )
            continue  # a baseline the stack was started without
        if Target.parse(user_class.target).protocol == "rest":
            user_class.host = stack.endpoint(user_class.target)
        kept.append(user_class)
    if not kept:
        known = ", ".join(user_class.target for user_class in environment.user_classes)
        raise SystemExit(f"--sb-target or --tags names none of the targets ({known})")
    environment.user_classes[:] = kept


def mark_schedule(environment) -> None:
    """When the open loop stops sending in this process: --sb-duration after the test starts
    (each process of a distributed run hears the start)."""

    @environment.events.test_start.add_listener
    def _started(**_) -> None:
        environment.sb_send_until = time.time() + environment.parsed_options.sb_duration


def start_recorder(environment) -> None:
    """Record every request in this process; the master of a distributed run sends none, but
    it is the one that knows when the test starts."""
    options = environment.parsed_options
    log_dir = Path(options.sb_request_log) if options.sb_request_log else None

    @environment.events.test_start.add_listener
    def _started(**_) -> None:
        if log_dir is not None:
            mark_test_start(log_dir)

    if isinstance(environment.runner, MasterRunner):
        return
    stack = read_stack(options.sb_stack)
    announce, listen = loadgen_discovery(stack)
    if options.sb_metrics_dir:
        announce = Path(options.sb_metrics_dir)
    targets = [user_class.target for user_class in environment.user_classes]
    recorder = RequestRecorder(
        options.sb_model, targets, log_dir, announce, options.sb_exporter_port, listen
    )
    environment.events.request.add_listener(recorder.on_request)
    if stack.prometheus_url and not options.sb_metrics_dir:
        wait_until_scraped(stack.prometheus_url, recorder.port)

    @environment.events.quitting.add_listener
    def _quitting(**_) -> None:
        recorder.close()
        if stack.prometheus_url:  # else nobody scrapes it (calibrate's trivial endpoint)
            wait_for_final_scrape(recorder.metrics.scrapes)  # it must read the final counts
        if announce is not None:
            announcement(announce, os.getpid()).unlink(missing_ok=True)


__all__ = ["TorchServeRestUser", "TorchServeGrpcUser", "TFServingRestUser", "TFServingGrpcUser",
           "DiyRestUser", "events", "mark_schedule", "select_targets",
           "start_recorder"]  # fmt: skip

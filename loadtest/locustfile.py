"""servebench's Locust users, one per target: torchserve-rest, torchserve-grpc, tfserving-rest,
tfserving-grpc, and diy-rest where `up --with-diy` started the baseline. Endpoints come from
`servebench up`'s .servebench/stack.json (--sb-stack).

    locust -f loadtest/locustfile.py,loadtest/scenarios/steady.py --headless \\
        --sb-model mlp --sb-target torchserve-rest --sb-users 4 --sb-duration 30

Pick targets with --sb-target or with --tags; add a scenario by adding a file to
loadtest/scenarios/. `servebench bench` runs this file for you, one target at a time.
"""

import locust  # noqa: F401  (before anything imports TensorFlow: the reverse order crashes)
from locust import events

from servebench.load.options import add_options
from servebench.load.users import (  # noqa: F401  (Locust finds the user classes here)
    DiyRestUser,
    TFServingGrpcUser,
    TFServingRestUser,
    TorchServeGrpcUser,
    TorchServeRestUser,
    mark_schedule,
    select_targets,
    start_recorder,
)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    add_options(parser)


@events.init.add_listener
def _init(environment, **_) -> None:
    select_targets(environment)
    mark_schedule(environment)
    start_recorder(environment)

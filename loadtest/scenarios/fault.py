"""fault: the steady load; `servebench bench --scenario fault --fault worker|server` kills part
of the server a third of the way into the measured time, and records the errors and the time
until replies succeed again."""

import steady  # Locust puts this folder on sys.path


class Fault(steady.Steady):
    pass

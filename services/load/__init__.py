"""Driving the whole system under load, from outside, as `make bench`, `make chaos` and the CI load
test do (not a service: it owns no database and no route).

- `stack`: the system started the way `make run` starts it, one process per command, each of
  which can be killed and restarted on its own.
- `driver`: posts pushed through the public gateway API by authors and reviewers.
- `bare`: a Temporal workflow of the pipeline's shape with no-op activities, the yardstick.
"""

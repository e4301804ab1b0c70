"""The producer side: how a task leaves the process that sends it.

`_route` chooses where a task goes (this instance's spooler, a mule, a spooler beyond it, or in place)
and builds its spec; `_spool`, `_mule` and `_beyond` hand it over; `_again` sends a spec that already
exists (a retry, a task not due yet, a re-dispatch), the one way every executor reschedules an attempt.
Every hand-over returns a `TaskHandle`. Running in place is the consumer side's (`_run._in_place`).

Empty on purpose: modules are imported by name, so importing one imports nothing else of the side.
"""

"""The consumer side: how a task runs where it was sent.

`_hooks` is where uWSGI calls in; `_spooler` runs a spool file and `_mule` a mule message, both through
the one attempt pipeline (`_attempt`), as `_in_place` does for tasks run where they are sent; `_starts`
counts starts, so a task whose process keeps dying is failed instead of run for ever.

Empty on purpose: modules are imported by name, so importing one imports nothing else of the side.
"""

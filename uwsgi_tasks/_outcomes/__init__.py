"""What became of a task: the `Outcome` model (`_model`), the one writer of records (`_writer`), the
stores that keep them (`_files`, `_memory`, `_redis`, chosen by `_where`) and the status read from the
world (`_observe`).

Empty on purpose: the codec imports `_model`, and the stores import the codec, so importing this
package must not import its modules.
"""

"""The wire format: the one place that knows how a task, a result or a handle looks in a spool file,
a mule message or the result store.

The rest of the package uses only the names here. Each sibling module holds one concept:

- `_framing`: spool dicts and mule messages, the frame around a task's JSON (its layout is there);
- `_envelope`: a task spec as JSON, encoded once per task where it can be (`Template`);
- `_values`: the user's values as JSON trees (a tag where JSON has no type, a signed pickle where
  nothing else carries the value); `_render` shows them to people;
- `_records`: outcome records and single values, as the result store keeps them;
- `_handle_ref`: a task handle travelling as a value;
- `_signing`: every signature; `_packet`: uWSGI's packet, as a spool file holds it;
- `_legacy`: 0.7.3's formats;
- `_json` and `_converter`: the JSON text and the cattrs converter the others share.
"""

from __future__ import annotations

from . import _legacy, _packet, _render
from ._envelope import Outgoing as Outgoing
from ._envelope import Template as Template
from ._envelope import outgoing as outgoing
from ._framing import MULE_MAGIC as MULE_MAGIC
from ._framing import PACKET_LIMIT as PACKET_LIMIT
from ._framing import Admit as Admit
from ._framing import by_reference as by_reference
from ._framing import check_size as check_size
from ._framing import claimed_identity as claimed_identity
from ._framing import decode_mule as decode_mule
from ._framing import decode_spool as decode_spool
from ._framing import due_now as due_now
from ._framing import encode_mule as encode_mule
from ._framing import encode_spool as encode_spool
from ._framing import is_by_reference as is_by_reference
from ._framing import is_mule_message as is_mule_message
from ._framing import is_spool_message as is_spool_message
from ._framing import mule_message as mule_message
from ._framing import network_packet as network_packet
from ._framing import packet_size as packet_size
from ._framing import spec_tree as spec_tree
from ._framing import spool_message as spool_message
from ._handle_ref import HandleRef as HandleRef
from ._handle_ref import is_spool_file as is_spool_file
from ._handle_ref import register_handle as register_handle
from ._records import decode_outcome as decode_outcome
from ._records import decode_value as decode_value
from ._records import encode_outcome as encode_outcome
from ._records import encode_value as encode_value
from ._records import outcome_tree as outcome_tree
from ._signing import open_note as open_note
from ._signing import open_start as open_start
from ._signing import seal_note as seal_note
from ._signing import seal_start as seal_start

#: Spool dicts and mule messages of uwsgi_tasks 0.7.3 (unsigned pickles, read only when trusted).
is_legacy_spool_message = _legacy.is_spool_message
decode_legacy_spool = _legacy.decode_spool
is_legacy_mule_message = _legacy.is_mule_message
decode_legacy_mule = _legacy.decode_mule

#: An encoded value as text for people; pickles show as ``<pickled N bytes>``.
render_value = _render.render
render_call = _render.render_call

#: The bytes uWSGI would write for a spool dict (its ``b"body"`` after the packet), and back.
pack_spool_file = _packet.pack
parse_spool_file = _packet.parse

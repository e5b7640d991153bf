"""Reading GET /tasks of a big swarm: decoded one task at a time as the answer arrives, each compacted at once.

docker-py's `tasks()` holds the whole answer three times over while it decodes it (the bytes, the text, then
every object whole): about 47 MB at 10,000 tasks, beside the tasks kept from the last refresh. Decoding the JSON
array object by object from the stream (json.JSONDecoder.raw_decode, the standard library's C scanner) and
compacting each one (mapping.compact_task) keeps the peak near what is kept. The errors are docker-py's own.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pilothouse.providers.swarm.mapping import compact_tasks

if TYPE_CHECKING:
    from docker.api.client import APIClient

CHUNK_BYTES = 256 * 1024
_WHITESPACE = " \t\n\r"


def read_tasks(client: APIClient) -> list[Any]:
    """Every task, as compact_tasks keeps them (what select_tasks shows, compacted)."""
    response = client._get(client._url("/tasks"), stream=True)
    try:
        client._raise_for_status(response)
        return compact_tasks(json_array_items(response.iter_content(CHUNK_BYTES)))
    finally:
        response.close()


def json_array_items(chunks: Iterator[bytes] | Any) -> Iterator[Any]:
    """The items of one JSON array (UTF-8, as the engine sends it) arriving in chunks, each as soon as it is whole.

    Raises ValueError (json.JSONDecodeError) for anything that is not one complete JSON array."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    position = 0
    started = ended = False
    for chunk in chunks:
        buffer = buffer[position:] + text.decode(chunk)
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in _WHITESPACE:
                position += 1
            if position >= len(buffer):
                break
            if ended:
                raise json.JSONDecodeError("data after the array", buffer, position)
            if not started:
                if buffer[position] != "[":
                    raise json.JSONDecodeError("expected a JSON array", buffer, position)
                started = True
                position += 1
                continue
            if buffer[position] == "]":
                ended = True
                position += 1
                continue
            if buffer[position] == ",":
                position += 1
                continue
            try:
                item, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                break  # an item not yet whole: wait for more (a malformed one fails at the end, below)
            if end >= len(buffer) and not isinstance(item, dict | list | str):
                break  # a number or literal at the very end may go on in the next chunk
            yield item
            position = end
    buffer = buffer[position:] + text.decode(b"", final=True)
    if not ended:
        if buffer.strip():
            decoder.raw_decode(buffer.strip())  # the malformed item's own error
        raise json.JSONDecodeError("incomplete JSON array", buffer, 0)

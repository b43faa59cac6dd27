"""Request parsers: DRF's JSON parser, answering 400 for every body it cannot decode to text."""

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, plus a 400 for JSON nested too deeply and for lone UTF-16 surrogates.

    DRF turns ValueError (bad syntax, bad encoding, NaN, over-long integers) into a ParseError but
    lets json's RecursionError (e.g. `[` * 100000) escape as a 500. A `\\ud800` escape decodes to
    a string that cannot be encoded as UTF-8, so echoing it (the browsable API does) is a 500 too.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            data = super().parse(stream, media_type, parser_context)
            # One C-speed pass over every string and key; cheaper than walking the data in Python.
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError(
                "JSON parse error - a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)."
            ) from None
        return data

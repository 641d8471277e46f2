"""Read the parameters of a Bot API HTTP request in every encoding Telegram accepts."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .errors import bad_request
from .models import UploadedFile

FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


async def read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Query string merged with the body (JSON, url-encoded or multipart form).

    Form values stay strings (the validator decodes them by the parameter's type); file
    parts are returned separately, keyed by their field name.
    """
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return params, files
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        params.update(body)
    elif content_type in FORM_TYPES:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = UploadedFile(
                    field_name=key,
                    filename=value.filename,
                    content=value.file.read(),
                    content_type=value.content_type,
                )
            else:
                params[key] = value
    return params, files

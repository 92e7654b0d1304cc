"""MCP resources in-process (the SDK's own client connected to ``build_server``): model names
that are not URI-safe are listed percent-encoded and read back from that URI."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

import chachaml as ml
from chachaml.mcp_server import build_server

NAMES = ["churn model", "team/churn", "q?x#y", "ü-名前", "50%off"]


def test_model_names_with_spaces_slashes_and_query_characters_round_trip(
    store: ml.Store,
) -> None:
    with ml.run(experiment="e") as run:
        ml.log_artifact("model", {"coef": [1.0]})
    for name in NAMES:
        ml.registry.register_model(name, artifact="model", run_id=run.id)

    async def main() -> dict[str, str]:
        read: dict[str, str] = {}
        async with Client(build_server(store, allow_writes=False)) as client:
            listed = await client.list_resources()
            uris = [str(r.uri) for r in listed.resources if "models/" in str(r.uri)]
            assert len(uris) == len(NAMES)
            for uri in uris:
                parts = urlsplit(uri)  # a well-formed URI: the whole name is in the path
                assert (parts.query, parts.fragment, " " in uri) == ("", "", False), uri
                body = json.loads((await client.read_resource(uri)).contents[0].text)
                read[uri] = body["name"]
            raw = await client.read_resource("chachaml://models/churn model")
            assert json.loads(raw.contents[0].text)["name"] == "churn model"
            with pytest.raises(MCPError, match="does not exist"):
                await client.read_resource("chachaml://models/no%20such%20model")
        return read

    read = anyio.run(main)
    assert sorted(read.values()) == sorted(NAMES)
    assert read["chachaml://models/churn%20model"] == "churn model"

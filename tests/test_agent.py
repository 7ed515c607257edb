"""RealtimeAgent and Toolkit: tool collection, duplicates, prefixes, instructions, voice."""

from typing import Any

import pytest

from voicewire.agent import RealtimeAgent
from voicewire.context import Context
from voicewire.protocol import ConfigurationError, ToolDefinition, VoiceConfig
from voicewire.tools import Tool, Toolkit, tool


@tool
def search(query: str) -> str:
    """Search the web."""
    return f"web:{query}"


def lookup(key: str) -> str:
    """Look a key up."""
    return f"kv:{key}"


@tool
def fetch(url: str) -> str:
    return url


def make_agent(**kwargs: Any) -> RealtimeAgent:
    kwargs.setdefault("instructions", "Be brief.")
    return RealtimeAgent("support", "Support", **kwargs)


def test_tools_in_order_with_plain_functions_wrapped() -> None:
    kit = Toolkit([fetch], id="net")
    agent = make_agent(tools=[search, lookup], toolkits=[kit])
    assert [t.name for t in agent.tools] == ["search", "lookup", "fetch"]
    assert agent.tools[0] is search
    assert isinstance(agent.tools[1], Tool)
    assert agent.tools[1].description == "Look a key up."
    assert agent.get_tool("lookup") is agent.tools[1]
    assert agent.get_tool("fetch") is fetch
    assert agent.get_tool("missing") is None
    assert agent.toolkits == (kit,)


def test_tool_definitions() -> None:
    agent = make_agent(tools=[search, lookup])
    definitions = agent.tool_definitions()
    assert all(isinstance(d, ToolDefinition) for d in definitions)
    assert [(d.name, d.description) for d in definitions] == [
        ("search", "Search the web."),
        ("lookup", "Look a key up."),
    ]
    assert definitions[0].parameters["required"] == ["query"]
    assert make_agent().tool_definitions() == []


def test_duplicate_names_within_tools() -> None:
    other = tool(lookup, name="search")
    with pytest.raises(
        ConfigurationError, match=r"duplicate tool names: 'search' \(in tools, tools\)"
    ):
        make_agent(tools=[search, other])


def test_duplicate_names_across_tools_and_toolkits() -> None:
    kit = Toolkit([tool(lookup, name="search"), fetch], id="web")
    with pytest.raises(ConfigurationError) as info:
        make_agent(tools=[search, fetch], toolkits=[kit])
    message = str(info.value)
    assert "agent 'support' has duplicate tool names" in message
    assert "'fetch' (in tools, toolkit 'web')" in message
    assert "'search' (in tools, toolkit 'web')" in message


def test_duplicate_names_across_toolkits() -> None:
    with pytest.raises(ConfigurationError, match=r"'fetch' \(in toolkit 'a', toolkit 'b'\)"):
        make_agent(toolkits=[Toolkit([fetch], id="a"), Toolkit([fetch], id="b")])


def test_prefix_renames_and_avoids_collisions() -> None:
    web = Toolkit([search, fetch], id="web", prefix="web")
    docs = Toolkit([tool(lookup, name="search")], prefix="docs")
    agent = make_agent(toolkits=[web, docs])
    assert [t.name for t in agent.tools] == ["web_search", "web_fetch", "docs_search"]
    assert search.name == "search", "the original tool must not be renamed"
    assert web.get_tool("web_search") is agent.get_tool("web_search")
    assert web.get_tool("search") is None
    assert agent.get_tool("web_search").parameters == search.parameters  # type: ignore[union-attr]
    assert web.prefix == "web" and web.id == "web" and docs.id is None


async def test_prefixed_tools_still_run() -> None:
    kit = Toolkit([search], prefix="web")
    assert await kit.tools[0].invoke(Context(), '{"query": "cats"}') == "web:cats"


def test_toolkit_rejects_internal_duplicates_and_bad_prefix() -> None:
    with pytest.raises(
        ConfigurationError, match="toolkit 'kit' has duplicate tool names: 'search'"
    ):
        Toolkit([search, tool(lookup, name="search")], id="kit")
    with pytest.raises(ConfigurationError, match="invalid tool name"):
        Toolkit([search], prefix="bad prefix")
    with pytest.raises(ConfigurationError, match="invalid tool name"):
        Toolkit([search], prefix="p" * 60)  # prefixed name exceeds 64 characters


def test_toolkit_accepts_functions_and_is_iterable() -> None:
    kit = Toolkit([lookup, search])
    assert len(kit) == 2
    assert [t.name for t in kit] == ["lookup", "search"]


def test_toolkit_passed_as_tool_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="use toolkits="):
        make_agent(tools=[Toolkit([search], id="web")])


def test_non_callable_tool_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="expected a Tool or a function"):
        make_agent(tools=["search"])


async def test_instructions_as_string() -> None:
    assert await make_agent().resolve_instructions(Context()) == "Be brief."


async def test_instructions_as_sync_callable() -> None:
    def instructions(ctx: Context[dict[str, str]]) -> str:
        return f"Help {ctx.data['user']} (session {ctx.session_id})."

    agent = make_agent(instructions=instructions)
    ctx = Context({"user": "Ada"}, session_id="s-1")
    assert await agent.resolve_instructions(ctx) == "Help Ada (session s-1)."


async def test_instructions_as_async_callable() -> None:
    async def instructions(ctx: Context[Any]) -> str:
        return f"Agent {ctx.agent_id}"

    agent = make_agent(instructions=instructions)
    assert await agent.resolve_instructions(Context(agent_id="support")) == "Agent support"
    assert await agent.resolve_instructions() == "Agent None"


async def test_instructions_callable_must_return_text() -> None:
    agent = make_agent(instructions=lambda ctx: 42)
    with pytest.raises(ConfigurationError, match="returned int, expected str"):
        await agent.resolve_instructions(Context())


def test_instructions_must_be_text_or_callable() -> None:
    with pytest.raises(ConfigurationError, match="instructions must be a string or a callable"):
        make_agent(instructions=None)


def test_voice_from_mapping() -> None:
    agent = make_agent(voice={"voice_id": "marin", "speed": 1.1})
    assert agent.voice == VoiceConfig(voice_id="marin", speed=1.1)
    assert make_agent(voice={"speed": 1}).voice == VoiceConfig(speed=1.0)
    config = VoiceConfig(voice_id="cedar")
    assert make_agent(voice=config).voice is config
    assert make_agent().voice is None


def test_voice_unknown_key() -> None:
    with pytest.raises(ConfigurationError) as info:
        make_agent(voice={"voice_id": "marin", "pitch": 2, "voice": "x"})
    message = str(info.value)
    assert "unknown voice option(s) 'pitch', 'voice'" in message
    assert "'voice_id', 'speed'" in message


@pytest.mark.parametrize(
    ("voice", "fragment"),
    [
        ({"voice_id": 3}, "voice_id must be a string"),
        ({"speed": "fast"}, "speed must be a number"),
        ({"speed": True}, "speed must be a number"),
        ("marin", "voice must be a VoiceConfig or a mapping"),
    ],
)
def test_voice_bad_values(voice: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        make_agent(voice=voice)


def test_identity_and_model() -> None:
    model = object()
    agent = RealtimeAgent("a1", "Alpha", "hi", model=model)  # type: ignore[arg-type]
    assert (agent.id, agent.name, agent.instructions, agent.model) == ("a1", "Alpha", "hi", model)
    with pytest.raises(ConfigurationError, match="agent id"):
        RealtimeAgent("", "Alpha", "hi")
    with pytest.raises(ConfigurationError, match="name"):
        RealtimeAgent("a1", "", "hi")


def test_context_defaults() -> None:
    a: Context[Any] = Context()
    b: Context[Any] = Context()
    assert (a.data, a.session_id, a.agent_id, a.metadata) == (None, None, None, {})
    a.metadata["k"] = 1
    assert b.metadata == {}, "metadata must not be shared between contexts"
    typed = Context[int](5, session_id="s")
    assert typed.data == 5 and typed.session_id == "s"

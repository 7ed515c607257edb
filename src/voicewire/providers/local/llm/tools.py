"""Which tools a reply may call, and how they are put to a model that answers in JSON.

:func:`offered_tools` routes: it picks the tools offered for one reply (by the request's
``tool_choice`` and, for small models, by the words of the user's last turn).
:func:`decision_schema` and :func:`tools_prompt` describe the offered tools to a model decoding
JSON under a grammar (see :mod:`.llamacpp`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ....protocol import ToolDefinition
from .interface import LLMRequest

_STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be been before being below between
    both but by can could did do does doing down during each few for from further get gets had
    has have having he her here hers him his how i if in into is it its itself just let lets me
    more most my no nor not now of off on once only or other our out over own please same set
    she should so some such tell than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours current currently give make value values return returns
    returned given name named using use used one two new want like know need okay ok hey hi
    hello thanks thank
    """.split()  # noqa: SIM905
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def keywords(text: str) -> set[str]:
    """Content words of ``text`` (lower case, crude stems, no stop words); splits identifiers."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").lower()
    words = re.findall(r"[a-z0-9]+", spaced)
    return {_stem(w) for w in words if len(w) > 2 and w not in _STOPWORDS}


def tool_keywords(tool: ToolDefinition) -> set[str]:
    texts = [tool.name, tool.description]
    properties = tool.parameters.get("properties")
    if isinstance(properties, Mapping):
        for key, prop in properties.items():
            texts.append(str(key))
            if isinstance(prop, Mapping):
                texts.append(str(prop.get("description", "")))
                enum = prop.get("enum")
                if isinstance(enum, list):
                    texts.extend(str(v) for v in enum)
    return keywords(" ".join(texts))


def offered_tools(
    request: LLMRequest, routing: Literal["keywords", "model"]
) -> list[ToolDefinition]:
    """The tools the model may choose from for this reply.

    ``tool_choice`` ``none`` offers nothing and a tool name offers that tool. With ``keywords``
    routing (for small models that call tools when they should not) a tool is offered only when
    the latest user turn shares a content word with the tool's name, description or parameters,
    and no tool is offered right after a tool result (the model should now answer with it).
    """
    choice = request.tool_choice
    tools = list(request.tools)
    if not tools or choice == "none":
        return []
    if choice not in ("auto", "required"):
        return [t for t in tools if t.name == choice]
    if choice == "required" or routing == "model":
        return tools
    last = request.messages[-1] if request.messages else None
    if last is None or last.role != "user":
        return []
    words = keywords(last.content)
    return [t for t in tools if words & tool_keywords(t)]


def argument_schema(tool: ToolDefinition) -> dict[str, Any]:
    schema = dict(tool.parameters) if tool.parameters else {}
    if schema.get("type") != "object":
        return {"type": "object"}
    return schema


def decision_schema(tools: Sequence[ToolDefinition], *, allow_answer: bool) -> dict[str, Any]:
    """JSON schema of one reply: ``{"answer": text}`` or ``{"tool": name, "arguments": {...}}``."""
    options: list[dict[str, Any]] = []
    if allow_answer:
        options.append(
            {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
        )
    for tool in tools:
        options.append(
            {
                "type": "object",
                "properties": {
                    "tool": {"type": "string", "enum": [tool.name]},
                    "arguments": argument_schema(tool),
                },
                "required": ["tool", "arguments"],
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def tools_prompt(tools: Sequence[ToolDefinition], *, allow_answer: bool) -> str:
    lines = ["You can call these tools:"]
    for tool in tools:
        props = tool.parameters.get("properties")
        args = ", ".join(str(k) for k in props) if isinstance(props, Mapping) else ""
        lines.append(f"- {tool.name}({args}): {tool.description}".rstrip())
    call = '{"tool": "<name>", "arguments": {...}}'
    if allow_answer:
        lines.append(
            "When the user asks for something a tool does, call that tool. "
            "Otherwise answer yourself."
        )
        lines.append(f'Reply with JSON only: {call} or {{"answer": "<your reply>"}}.')
    else:
        lines.append(f"Reply with JSON only, calling one tool: {call}.")
    return "\n".join(lines)

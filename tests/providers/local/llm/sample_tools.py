"""Two tools the LLM tests offer: one about the weather, one about timers."""

from voicewire.protocol import ToolDefinition

WEATHER = ToolDefinition(
    "get_weather",
    "Get the current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIMER = ToolDefinition(
    "set_timer",
    "Start a countdown timer.",
    {"type": "object", "properties": {"minutes": {"type": "integer"}}},
)

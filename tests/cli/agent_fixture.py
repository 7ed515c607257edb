"""An agent for ``voicewire serve --agent tests.cli.agent_fixture:agent``."""

from voicewire import RealtimeAgent

agent = RealtimeAgent(id="fixture", name="Fixture", instructions="Answer in one word.")

"""The fake Gemini server's input: realtime audio and text, turns of content, tool responses.

* ``realtimeInput.audio``: PCM16 (``audio/pcm;rate=N``, 16 kHz natively; other rates are taken
  as Gemini resamples them). With automatic activity detection (the default) the shared energy
  VAD (:mod:`voicewire.testing.energy_vad`) finds speech: its start interrupts the model's turn
  (unless ``activityHandling`` is ``NO_INTERRUPTION``), and after ``silenceDurationMs`` of quiet
  the user's turn ends: its ``inputTranscription`` fragments (when asked for; the words come from
  :meth:`Script.next_transcript`) and the model's reply follow. ``audioStreamEnd`` ends speech in
  progress.
* With ``automaticActivityDetection.disabled``, ``activityStart`` interrupts and
  ``activityEnd`` ends the user's turn; sending them while automatic detection is on is refused
  with 1007, as is ``audioStreamEnd`` the other way round.
* ``realtimeInput.text`` is a user turn (interrupting the model); ``clientContent`` turns join the
  conversation and ``turnComplete: true`` asks for a reply. With
  ``historyConfig.initialHistoryInClientContent`` they only seed history. A 3.x model refuses
  ``clientContent`` once the conversation is under way (1007).
* ``toolResponse``: each ``functionResponse.response`` must be an object (else 1007); when the
  open turn has every response it continues.
"""

from __future__ import annotations

import re
from typing import Any

from ..energy_vad import DEFAULT_PREFIX_PADDING_MS, DEFAULT_SILENCE_MS, SpeechStart, VadSettings
from ..gemini_validation import decode_base64
from ..responder import WORDS
from .state import Frame, GeminiLink, get_field
from .turns import TurnHandlers

__all__ = ["InputHandlers"]

INPUT_RATE = 16000
_RATE = re.compile(r"rate=(\d+)")
_GEMINI_3 = re.compile(r"^models/gemini-3")


class InputHandlers(TurnHandlers):
    """``realtimeInput``, ``clientContent``, ``toolResponse`` and ``contextUpdate``."""

    # --- realtime input ----------------------------------------------------------------------

    async def _on_realtime_input(self, link: GeminiLink, body: Frame) -> None:
        link.realtime_started = True
        if link.session is not None:
            link.session.seeded = True
        audio = get_field(body, "audio")
        if audio is not None:
            await self._on_audio(link, audio)
        elif get_field(body, "mediaChunks") is not None:
            self.violations.append("realtimeInput.mediaChunks: deprecated, send 'audio'")
            for chunk in get_field(body, "mediaChunks") or []:
                await self._on_audio(link, chunk)
        elif get_field(body, "activityStart") is not None:
            await self._on_activity_start(link)
        elif get_field(body, "activityEnd") is not None:
            await self._on_activity_end(link)
        elif get_field(body, "audioStreamEnd") is not None:
            await self._on_audio_stream_end(link)
        elif isinstance(get_field(body, "text"), str):
            await self._barge_in(link)
            await self._user_turn(link, str(get_field(body, "text")))

    def _automatic_vad(self, link: GeminiLink) -> bool:
        detection = self._setup_field(link, "realtimeInputConfig", "automaticActivityDetection")
        return get_field(detection, "disabled") is not True

    def _interrupts(self, link: GeminiLink) -> bool:
        handling = self._setup_field(link, "realtimeInputConfig", "activityHandling")
        return bool(handling != "NO_INTERRUPTION")

    def _vad_settings(self, link: GeminiLink) -> VadSettings:
        detection = self._setup_field(link, "realtimeInputConfig", "automaticActivityDetection")
        silence = get_field(detection, "silenceDurationMs")
        padding = get_field(detection, "prefixPaddingMs")
        return VadSettings(
            silence_duration_ms=int(silence) if silence is not None else DEFAULT_SILENCE_MS,
            prefix_padding_ms=int(padding) if padding is not None else DEFAULT_PREFIX_PADDING_MS,
        )

    async def _on_audio(self, link: GeminiLink, blob: Any) -> None:
        session = link.session
        assert session is not None
        mime = get_field(blob, "mimeType")
        data = decode_base64(get_field(blob, "data"))
        if data is None:
            await self._refuse(link, "realtimeInput.audio.data: invalid base64")
            return
        if not isinstance(mime, str) or not mime.startswith("audio/pcm"):
            await self._refuse(link, f"realtimeInput.audio.mimeType: {mime!r} is not audio/pcm")
            return
        match = _RATE.search(mime)
        rate = int(match.group(1)) if match else INPUT_RATE
        session.input_audio.extend(data)
        session.audio_frames.append(data)
        automatic = self._automatic_vad(link)
        settings = self._vad_settings(link) if automatic else None
        if link.in_activity:
            link.activity_ms += len(data) / 2 * 1000 / rate
        for heard in link.vad.feed(data, rate, self.vad_rms_threshold, settings):
            if isinstance(heard, SpeechStart):
                if self._interrupts(link):
                    await self._barge_in(link)
            else:
                link.vad.commit()
                await self._audio_turn(link)

    async def _on_activity_start(self, link: GeminiLink) -> None:
        if self._automatic_vad(link):
            await self._refuse(
                link, "realtimeInput.activityStart: only with automatic activity detection off"
            )
            return
        link.in_activity, link.activity_ms = True, 0.0
        if self._interrupts(link):
            await self._barge_in(link)

    async def _on_activity_end(self, link: GeminiLink) -> None:
        if self._automatic_vad(link):
            await self._refuse(
                link, "realtimeInput.activityEnd: only with automatic activity detection off"
            )
            return
        if not link.in_activity:
            self.violations.append("realtimeInput.activityEnd: no activityStart before it")
            return
        link.in_activity = False
        if link.activity_ms > 0:
            await self._audio_turn(link)

    async def _on_audio_stream_end(self, link: GeminiLink) -> None:
        if not self._automatic_vad(link):
            await self._refuse(
                link, "realtimeInput.audioStreamEnd: only with automatic activity detection"
            )
            return
        if link.vad.speaking:
            link.vad.commit()
            await self._audio_turn(link)

    async def _audio_turn(self, link: GeminiLink) -> None:
        """The user's spoken turn ended: its transcription, then the model's reply."""
        heard = self.script.next_transcript()
        if self._setup_field(link, "inputAudioTranscription") is not None:
            for word in WORDS.findall(heard):
                await self._send(link, {"serverContent": {"inputTranscription": {"text": word}}})
        await self._user_turn(link, heard)

    async def _user_turn(self, link: GeminiLink, text: str) -> None:
        session = link.session
        assert session is not None
        session.turns.append({"role": "user", "parts": [{"text": text}]})
        if link.turn is None:
            self._start_turn(link, self._reply_for_text(link))

    # --- turns of content --------------------------------------------------------------------

    async def _on_client_content(self, link: GeminiLink, body: Frame) -> None:
        session = link.session
        assert session is not None
        history = self._setup_field(link, "historyConfig", "initialHistoryInClientContent")
        seeding = history is True and not session.seeded
        if _GEMINI_3.match(session.model) and (session.seeded or link.realtime_started):
            await self._refuse(link, "clientContent: a 3.x model takes it only as initial history")
            return
        turns = get_field(body, "turns") or []
        session.turns.extend(t for t in turns if isinstance(t, dict))
        if get_field(body, "turnComplete") is not True:
            return
        if seeding or _GEMINI_3.match(session.model):
            session.seeded = True
            return
        await self._barge_in(link)
        if link.turn is None:
            self._start_turn(link, self._reply_for_text(link))

    async def _on_context_update(self, link: GeminiLink, body: Frame) -> None:
        session = link.session
        assert session is not None
        for key in ("systemInstruction", "tools"):
            value = get_field(body, key)
            if key == "tools" and isinstance(value, dict):
                value = get_field(value, "tools")
            if value is not None:
                session.setup[key] = value

    # --- tool responses ----------------------------------------------------------------------

    async def _on_tool_response(self, link: GeminiLink, body: Frame) -> None:
        session = link.session
        assert session is not None
        responses = get_field(body, "functionResponses") or []
        for response in responses:
            if not isinstance(response, dict) or not isinstance(response.get("response"), dict):
                await self._refuse(link, "toolResponse: functionResponse.response is not an object")
                return
        turn = link.turn
        answered: str | None = None
        for response in responses:
            call_id = response.get("id")
            session.turns.append({"role": "user", "parts": [{"functionResponse": response}]})
            if turn is not None and call_id in turn.pending_calls:
                del turn.pending_calls[call_id]
                answered = str(call_id)
            elif call_id not in session.calls:
                self.violations.append(f"toolResponse: unknown function call id {call_id!r}")
        if turn is not None and answered is not None and not turn.pending_calls:
            self._continue_after_tools(link, answered)

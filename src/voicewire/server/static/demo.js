// The demo page at "/": start / mute / end, status, live transcript, level meters, a text box.
import { RealtimeClient } from "/static/voicewire.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  state: $("state"),
  start: $("start"),
  mute: $("mute"),
  end: $("end"),
  micLevel: $("mic-level"),
  voiceLevel: $("voice-level"),
  transcript: $("transcript"),
  empty: $("empty"),
  form: $("message-form"),
  message: $("message"),
  send: $("send"),
  error: $("error"),
};

async function fetchCredential() {
  const response = await fetch("/realtime/credential", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body.error && body.error.message) || response.statusText;
    throw new Error(`could not get a credential: ${message}`);
  }
  return body.credential;
}

const client = new RealtimeClient({ getCredential: fetchCredential });

function showError(message) {
  ui.error.textContent = message || "";
  ui.error.hidden = !message;
}

function render() {
  const { status, muted, agentState } = client;
  ui.status.textContent = status;
  ui.status.dataset.status = status;
  ui.state.textContent = agentState;
  ui.state.dataset.state = agentState;
  const live = status === "connected" || status === "reconnecting";
  ui.start.disabled = status !== "disconnected";
  ui.end.disabled = !(live || status === "connecting");
  ui.mute.disabled = !live;
  ui.mute.textContent = muted ? "Unmute" : "Mute";
  ui.mute.setAttribute("aria-pressed", String(muted));
  ui.message.disabled = ui.send.disabled = status !== "connected";
}

function renderTranscript(lines) {
  const shown = lines.filter((line) => line.text);
  ui.empty.hidden = shown.length > 0;
  for (const node of [...ui.transcript.querySelectorAll(".line")]) node.remove();
  for (const line of shown) {
    const node = document.createElement("div");
    node.className = `line ${line.role}`;
    node.dataset.itemId = line.itemId;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = line.role === "user" ? "You" : "Agent";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = line.text;
    node.append(who, text);
    ui.transcript.append(node);
  }
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// RMS (0..1) -> meter width: -60 dBFS..0 dBFS
function meter(rms) {
  if (rms <= 0) return 0;
  return Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 60));
}

function animate() {
  const channel = client.channel;
  const live = client.status === "connected" && channel && channel.initialized;
  // the microphone is heard (and kept) from Start on, before the session is up
  const capturing = client.status !== "disconnected" && channel && channel.initialized;
  const mic = capturing && !client.muted ? meter(channel.inputLevel()) : 0;
  const voice = live ? meter(channel.outputLevel()) : 0;
  ui.micLevel.style.width = `${(mic * 100).toFixed(1)}%`;
  ui.voiceLevel.style.width = `${(voice * 100).toFixed(1)}%`;
  requestAnimationFrame(animate);
}

client.on("status", render);
client.on("state", render);
client.on("muted", render);
client.on("transcript", renderTranscript);
client.on("error", (err) => showError(err.message));

ui.start.addEventListener("click", async () => {
  showError("");
  try {
    await client.connect(await fetchCredential());
  } catch (err) {
    showError(err.message || String(err));
  }
});
ui.mute.addEventListener("click", () => (client.muted ? client.unmute() : client.mute()));
ui.end.addEventListener("click", () => client.disconnect());
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value.trim();
  if (!text || client.status !== "connected") return;
  client.sendMessage(text);
  ui.message.value = "";
});

// For tests and the curious: the client, and what has been heard of the agent's audio.
window.voicewireDemo = {
  client,
  playedMs: () => (client.channel ? client.channel.totalPlayedMs() : 0),
};

render();
requestAnimationFrame(animate);

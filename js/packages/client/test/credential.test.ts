import { describe, expect, it, vi } from "vitest";

import { RealtimeError, fetchCredential, parseCredential } from "../src/index.js";

function answering(status: number, body: unknown): typeof fetch {
  return vi.fn(async () => new Response(typeof body === "string" ? body : JSON.stringify(body), { status }));
}

describe("parseCredential", () => {
  it("takes the endpoint's answer, a bare credential, or an OpenAI client secret", () => {
    const at = "2030-01-01T00:00:00.000Z";
    expect(parseCredential({ credential: { kind: "token", token: "t", expiresAt: at } })).toEqual({
      kind: "token",
      token: "t",
      expiresAt: new Date(at),
    });
    expect(parseCredential({ kind: "url", url: "wss://x.invalid/s", expiresAt: new Date(at) })).toMatchObject({
      kind: "url",
      expiresAt: new Date(at),
    });
    // OpenAI: epoch seconds
    expect(parseCredential({ value: "ek_1", expires_at: 1_893_456_000 }).expiresAt).toEqual(new Date(at));
    expect(() => parseCredential({ kind: "token", token: "" })).toThrow("the credential has no token");
    expect(() => parseCredential({ kind: "token", token: "t", expiresAt: "not a date" })).toThrow(/not a date/);
  });
});

describe("fetchCredential", () => {
  it("POSTs to /realtime/credential and returns the parsed credential", async () => {
    const fetch = answering(200, { credential: { kind: "token", token: "jwt", expiresAt: "2030-01-01T00:00:00Z" } });
    const credential = await fetchCredential({ fetch, body: { provider: "openai" } });
    expect(credential).toEqual({ kind: "token", token: "jwt", expiresAt: new Date("2030-01-01T00:00:00Z") });
    expect(fetch).toHaveBeenCalledWith("/realtime/credential", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"provider":"openai"}',
    });
  });

  it("says why the server refused, with its code", async () => {
    const fetch = answering(429, { error: { type: "invalid_request_error", code: "rate_limit_exceeded", message: "slow down" } });
    const refused = fetchCredential({ fetch });
    await expect(refused).rejects.toBeInstanceOf(RealtimeError);
    await expect(refused).rejects.toMatchObject({
      code: "rate_limit_exceeded",
      message: "could not get a credential (429): slow down",
    });
    await expect(fetchCredential({ fetch: answering(502, "<html>bad gateway</html>") })).rejects.toMatchObject({
      code: "http_502",
    });
    await expect(fetchCredential({ fetch: answering(200, "nope") })).rejects.toMatchObject({
      code: "invalid_credential",
    });
  });
});

/**
 * `UseRealtimeReturn` of @voicewire/react is exactly the seed's (kernl's
 * `react/src/hooks/use-realtime.ts:43`, shared/seeds/UseRealtimeReturn.md), field by field, as a
 * user gets it from the published `.d.ts`.
 */
import type { CredentialInput, TransportStatus } from "@voicewire/client";
import type { UseRealtimeResult, UseRealtimeReturn } from "@voicewire/react";
import { expectTypeOf } from "vitest";

import { assertType, type Equals } from "./assert.js";

/** The seed's TransportStatus. */
type SeedTransportStatus = "disconnected" | "connecting" | "connected" | "reconnecting" | "closed";

/** The seed's interface, transcribed from its table. */
interface SeedUseRealtimeReturn {
  status: SeedTransportStatus;
  connect: (credential: CredentialInput) => Promise<void>;
  disconnect: () => void;
  muted: boolean;
  mute: () => void;
  unmute: () => void;
  sendMessage: (text: string) => void;
}

type R = UseRealtimeReturn;
type S = SeedUseRealtimeReturn;

// the same fields, no more, no fewer
assertType<Equals<keyof R, keyof S>>();
assertType<Equals<keyof R, "status" | "connect" | "disconnect" | "muted" | "mute" | "unmute" | "sendMessage">>();

// each field's type
assertType<Equals<TransportStatus, SeedTransportStatus>>();
assertType<Equals<R["status"], S["status"]>>();
assertType<Equals<R["connect"], S["connect"]>>();
assertType<Equals<R["disconnect"], S["disconnect"]>>();
assertType<Equals<R["muted"], S["muted"]>>();
assertType<Equals<R["mute"], S["mute"]>>();
assertType<Equals<R["unmute"], S["unmute"]>>();
assertType<Equals<R["sendMessage"], S["sendMessage"]>>();
assertType<Equals<R, S>>();

// the same, through vitest's expectTypeOf
expectTypeOf<R>().toEqualTypeOf<S>();
expectTypeOf<R["connect"]>().parameters.toEqualTypeOf<[CredentialInput]>();
expectTypeOf<R["connect"]>().returns.toEqualTypeOf<Promise<void>>();
expectTypeOf<R["sendMessage"]>().parameters.toEqualTypeOf<[string]>();

// what useRealtime returns is the seed's fields plus voicewire's, typed beside them
expectTypeOf<UseRealtimeResult>().toMatchTypeOf<S>();
assertType<Equals<Exclude<keyof UseRealtimeResult, keyof S>, "agentState" | "transcript">>();

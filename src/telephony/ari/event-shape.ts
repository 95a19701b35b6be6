// The shape check of an ARI event as it comes off the WebSocket, before any handler reads it: a JSON value
// that is not an object, a type that is not a string, or a channel whose fields are not the types Asterisk
// sends (ARI's Channel model: id, name, state strings; caller/connected CallerID objects; dialplan CEP;
// channelvars strings) is refused with the reason, so no handler ever reads a field of the wrong type.
import type { AriEvent } from './client.js';

type Shape = 'string' | 'number' | 'object';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field that is absent or has the type given. */
function optional(o: Record<string, unknown>, key: string, type: Shape): boolean {
  const v = o[key];
  if (v === undefined) return true;
  return type === 'object' ? isObject(v) : typeof v === type;
}

function callerIdOk(v: unknown): boolean {
  return v === undefined || (isObject(v) && optional(v, 'name', 'string') && optional(v, 'number', 'string'));
}

/** Why the event's channel is malformed, or undefined when it is fine (or absent). */
function channelProblem(ch: unknown): string | undefined {
  if (ch === undefined) return undefined;
  if (!isObject(ch)) return 'channel is not an object';
  if (typeof ch.id !== 'string' || ch.id.length === 0) return 'channel has no string id';
  if (!optional(ch, 'name', 'string') || !optional(ch, 'state', 'string')) return 'channel name or state is not a string';
  if (!callerIdOk(ch.caller) || !callerIdOk(ch.connected)) return 'channel caller or connected is not a CallerID';
  const dp = ch.dialplan;
  if (dp !== undefined && !(isObject(dp) && optional(dp, 'context', 'string') && optional(dp, 'exten', 'string') && optional(dp, 'priority', 'number'))) return 'channel dialplan is malformed';
  const vars = ch.channelvars;
  if (vars !== undefined && !(isObject(vars) && Object.values(vars).every((x) => typeof x === 'string'))) return 'channel variables are not strings';
  return undefined;
}

/** The event, or why it is refused. */
export function checkAriEvent(value: unknown): { event: AriEvent } | { problem: string } {
  if (!isObject(value)) return { problem: `event is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not an object` };
  if (typeof value.type !== 'string') return { problem: 'event has no string type' };
  const problem = channelProblem(value.channel);
  if (problem) return { problem };
  const bridge = value.bridge;
  if (bridge !== undefined && !(isObject(bridge) && typeof bridge.id === 'string' && (bridge.channels === undefined || (Array.isArray(bridge.channels) && bridge.channels.every((c) => typeof c === 'string'))))) {
    return { problem: 'bridge is malformed' };
  }
  return { event: value as AriEvent };
}

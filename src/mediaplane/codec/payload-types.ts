// Maps RTP payload type numbers to formats: the static assignments of RFC 3551 §6, the defaults Asterisk
// and most SIP stacks use for dynamic types, and whatever configuration or SDP adds.
import { TheoError } from '../../errors/index.js';
import { PCMA, PCMU, codecByName, l16, type AudioCodec } from './codec.js';

export type PayloadFormat =
  | { kind: 'audio'; payloadType: number; codec: AudioCodec }
  | { kind: 'telephone-event'; payloadType: number; clockRate: number };

/** A format before it is bound to a number (the map fills in payloadType). */
export type PayloadFormatSpec =
  | { kind: 'audio'; codec: AudioCodec }
  | { kind: 'telephone-event'; clockRate: number };

/** The RTP header's PT field is 7 bits (RFC 3550 §5.1). */
const PAYLOAD_TYPE_COUNT = 128;
/** RFC 3551 §6 Table 4: static payload types. */
const PT_PCMU = 0;
const PT_PCMA = 8;
const PT_L16_MONO_44100 = 11;
/** Asterisk's default for slin16 (rtp_engine.c: add_static_payload(118, ast_format_slin16)). */
const PT_ASTERISK_SLIN16 = 118;
/** The usual dynamic number for RFC 4733 telephone-event; Asterisk and most SIP stacks offer it. */
const PT_TELEPHONE_EVENT = 101;
const TELEPHONE_EVENT_DEFAULT_RATE = 8000;

function checkPayloadType(pt: number): void {
  if (!Number.isInteger(pt) || pt < 0 || pt >= PAYLOAD_TYPE_COUNT) {
    throw new TheoError('invalid_argument', `payload type ${pt} is out of range 0..${PAYLOAD_TYPE_COUNT - 1}`, { payloadType: pt });
  }
}

export class PayloadTypeMap {
  // Indexed by payload type: one array read per packet, no hashing.
  private readonly table: Array<PayloadFormat | undefined> = new Array<PayloadFormat | undefined>(PAYLOAD_TYPE_COUNT).fill(undefined);

  /** 0 PCMU, 8 PCMA, 11 L16/44100 (RFC 3551 §6), 118 L16/16000 (Asterisk slin16), 101 telephone-event/8000. */
  static defaults(): PayloadTypeMap {
    return PayloadTypeMap.fromEntries([
      [PT_PCMU, { kind: 'audio', codec: PCMU }],
      [PT_PCMA, { kind: 'audio', codec: PCMA }],
      [PT_L16_MONO_44100, { kind: 'audio', codec: l16(44100) }],
      [PT_ASTERISK_SLIN16, { kind: 'audio', codec: l16(16000) }],
      [PT_TELEPHONE_EVENT, { kind: 'telephone-event', clockRate: TELEPHONE_EVENT_DEFAULT_RATE }],
    ]);
  }

  /** A map holding exactly these entries (no defaults); a later entry for the same number wins. */
  static fromEntries(entries: Iterable<readonly [number, PayloadFormatSpec]>): PayloadTypeMap {
    const m = new PayloadTypeMap();
    for (const [pt, format] of entries) m.set(pt, format);
    return m;
  }

  /**
   * The defaults changed by a config/CLI string of comma-separated NUMBER=ENCODING[/RATE] entries, e.g.
   * "96=L16/16000,101=telephone-event/8000,97=PCMU". An entry replaces the default for its number;
   * "97=none" removes one. Encodings: PCMU, PCMA (and their aliases), L16 (rate required), slin, slin16,
   * telephone-event (rate defaults to 8000).
   */
  static parse(spec: string, base: PayloadTypeMap = PayloadTypeMap.defaults()): PayloadTypeMap {
    const m = base.clone();
    const seen = new Set<number>();
    for (const raw of spec.split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const match = /^(\d{1,3})\s*=\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:\/\s*(\d{1,6}))?$/.exec(entry);
      if (!match) {
        throw new TheoError('invalid_argument', `payload type entry "${entry}" is not NUMBER=ENCODING[/RATE] (e.g. 96=L16/16000)`, { entry });
      }
      const pt = Number(match[1]);
      const encoding = match[2] as string;
      const rate = match[3] === undefined ? undefined : Number(match[3]);
      checkPayloadType(pt);
      if (seen.has(pt)) throw new TheoError('invalid_argument', `payload type ${pt} is given twice in "${spec}"`, { payloadType: pt });
      seen.add(pt);
      if (rate === 0) throw new TheoError('invalid_argument', `payload type ${pt}: clock rate must be positive`, { entry });
      const name = encoding.toLowerCase();
      if (name === 'none') {
        if (rate !== undefined) throw new TheoError('invalid_argument', `payload type ${pt}: "none" takes no rate`, { entry });
        m.delete(pt);
      } else if (name === 'telephone-event') {
        m.set(pt, { kind: 'telephone-event', clockRate: rate ?? TELEPHONE_EVENT_DEFAULT_RATE });
      } else {
        // L16 has no natural rate; guessing one would play a 16 kHz stream at half speed.
        if (name === 'l16' && rate === undefined) {
          throw new TheoError('invalid_argument', `payload type ${pt}: L16 needs a clock rate (e.g. ${pt}=L16/16000)`, { entry });
        }
        const known = codecByName(name);
        if (!known) {
          throw new TheoError('invalid_argument', `payload type ${pt}: unknown encoding "${encoding}" (known: PCMU, PCMA, L16, slin, slin16, telephone-event, none)`, { entry });
        }
        const codec = codecByName(name, rate);
        if (!codec) {
          throw new TheoError('invalid_argument', `payload type ${pt}: ${encoding} runs at ${known.clockRate} Hz, not ${rate}`, { entry });
        }
        m.set(pt, { kind: 'audio', codec });
      }
    }
    return m;
  }

  /** The format for a payload type; undefined for unknown or out-of-range numbers. */
  get(pt: number): PayloadFormat | undefined {
    return this.table[pt];
  }

  set(pt: number, format: PayloadFormatSpec): this {
    checkPayloadType(pt);
    this.table[pt] = Object.freeze(
      format.kind === 'audio'
        ? { kind: 'audio', payloadType: pt, codec: format.codec }
        : { kind: 'telephone-event', payloadType: pt, clockRate: format.clockRate },
    );
    return this;
  }

  /** Returns whether there was an entry. */
  delete(pt: number): boolean {
    checkPayloadType(pt);
    const had = this.table[pt] !== undefined;
    this.table[pt] = undefined;
    return had;
  }

  clone(): PayloadTypeMap {
    const m = new PayloadTypeMap();
    for (let pt = 0; pt < PAYLOAD_TYPE_COUNT; pt++) m.table[pt] = this.table[pt];
    return m;
  }

  /** The entries in payload type order. */
  entries(): PayloadFormat[] {
    return this.table.filter((f): f is PayloadFormat => f !== undefined);
  }

  /** The map in parse() syntax (every entry, not only the changes), for logs. */
  toString(): string {
    return this.entries()
      .map((f) => (f.kind === 'audio' ? `${f.payloadType}=${f.codec.encodingName}/${f.codec.clockRate}` : `${f.payloadType}=telephone-event/${f.clockRate}`))
      .join(',');
  }
}

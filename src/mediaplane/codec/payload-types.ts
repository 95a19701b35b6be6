// Maps RTP payload type numbers to formats: the static assignments of RFC 3551 §6, Asterisk's
// defaults for dynamic types, and whatever configuration or SDP adds.
import { TheoError } from '../../errors/index.js';
import { PCMA, PCMU, codecByName, l16, type AudioCodec } from './codec.js';

export type PayloadFormat =
  | { kind: 'audio'; payloadType: number; codec: AudioCodec }
  | { kind: 'telephone-event'; payloadType: number; clockRate: number };

export class PayloadTypeMap {
  // Indexed by payload type (0..127): a lookup per packet, no hashing.
  private readonly table: Array<PayloadFormat | undefined> = new Array<PayloadFormat | undefined>(128).fill(undefined);

  /** 0 PCMU, 8 PCMA, 11 L16/44100 (RFC 3551), 118 L16/16000 (Asterisk slin16), 101 telephone-event/8000. */
  static defaults(): PayloadTypeMap {
    const m = new PayloadTypeMap();
    m.set({ kind: 'audio', payloadType: 0, codec: PCMU });
    m.set({ kind: 'audio', payloadType: 8, codec: PCMA });
    m.set({ kind: 'audio', payloadType: 11, codec: l16(44100) });
    m.set({ kind: 'audio', payloadType: 118, codec: l16(16000) });
    m.set({ kind: 'telephone-event', payloadType: 101, clockRate: 8000 });
    return m;
  }

  /**
   * The defaults plus entries like "96=L16/16000,101=telephone-event/8000,97=PCMU" (an entry replaces the
   * default for its number; "97=none" removes one).
   */
  static parse(spec: string): PayloadTypeMap {
    const m = PayloadTypeMap.defaults();
    for (const raw of spec.split(',')) {
      const entry = raw.trim();
      if (entry === '') continue;
      const match = /^(\d{1,3})\s*=\s*([A-Za-z0-9-]+)(?:\/(\d+))?$/.exec(entry);
      if (!match) throw new TheoError('invalid_argument', `payload type entry "${entry}" is not NUMBER=ENCODING[/RATE] (e.g. 96=L16/16000)`);
      const pt = Number(match[1]);
      if (pt > 127) throw new TheoError('invalid_argument', `payload type ${pt} is out of range 0..127`);
      const name = (match[2] as string).toLowerCase();
      const rate = match[3] !== undefined ? Number(match[3]) : undefined;
      if (name === 'none') {
        m.delete(pt);
      } else if (name === 'telephone-event') {
        m.set({ kind: 'telephone-event', payloadType: pt, clockRate: rate ?? 8000 });
      } else {
        const codec = codecByName(name, rate);
        if (!codec) throw new TheoError('invalid_argument', `payload type ${pt}: unknown encoding "${match[2]}" (known: PCMU, PCMA, L16, telephone-event)`);
        if (rate !== undefined && codec.clockRate !== rate) throw new TheoError('invalid_argument', `payload type ${pt}: ${codec.name} runs at ${codec.clockRate} Hz, not ${rate}`);
        m.set({ kind: 'audio', payloadType: pt, codec });
      }
    }
    return m;
  }

  get(pt: number): PayloadFormat | undefined {
    return this.table[pt & 0x7f];
  }

  set(format: PayloadFormat): this {
    this.table[format.payloadType & 0x7f] = format;
    return this;
  }

  delete(pt: number): void {
    this.table[pt & 0x7f] = undefined;
  }

  entries(): PayloadFormat[] {
    return this.table.filter((f): f is PayloadFormat => f !== undefined);
  }
}

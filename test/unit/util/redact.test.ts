// Redaction of URLs for logs, metric labels and files: userinfo, query values and token-like path segments
// go; scheme, host, port and the path's shape stay. URLs inside error text and errors' stacks likewise.
import { describe, expect, it } from 'vitest';
import { redactError, redactText, redactUrl, urlHost } from '../../../src/util/redact.js';

describe('redactUrl', () => {
  it.each([
    ['http://user:pass@crm.example.com:8080/hooks/tok9f8e7d6c5b4a3928?token=abc&x=1', 'http://***@crm.example.com:8080/hooks/***?token=***&x=***'],
    ['https://user@example.com/', 'https://***@example.com/'],
    ['https://hooks.slack.com/services/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', 'https://hooks.slack.com/services/T0123ABCD/B0123ABCD/***'],
    ['https://discord.com/api/webhooks/1234567890123456789/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ', 'https://discord.com/api/webhooks/***/***'],
    ['http://127.0.0.1:8088/ari', 'http://127.0.0.1:8088/ari'],
    ['ws://127.0.0.1:8088/ari/events?app=theo&subscribeAll=false', 'ws://127.0.0.1:8088/ari/events?app=***&subscribeAll=***'],
    ['https://huggingface.co/onnx-community/whisper-tiny/resolve/main/onnx/decoder_model_merged_quantized.onnx', 'https://huggingface.co/onnx-community/whisper-tiny/resolve/main/onnx/decoder_model_merged_quantized.onnx'],
    ['https://hub.example.com/x#frag', 'https://hub.example.com/x#***'],
    ['mailto:someone@example.com', 'mailto:***'],
    ['not a url', '***'],
  ])('%s', (raw, want) => {
    expect(redactUrl(raw)).toBe(want);
  });

  it('urlHost keeps host and port only', () => {
    expect(urlHost('http://u:p@crm.example.com:8080/hooks/x?y=1')).toBe('crm.example.com:8080');
    expect(urlHost('nope')).toBe('***');
  });
});

describe('redactText and redactError', () => {
  it('redacts every URL in a text and leaves the rest', () => {
    expect(redactText('fetch of http://u:p@h:1/a?token=s3cret failed; retry https://x.example/b?k=v later')).toBe('fetch of http://***@h:1/a?token=*** failed; retry https://x.example/b?k=*** later');
    expect(redactText('no url here')).toBe('no url here');
  });

  it('returns an error without URLs as it is, else a copy with message, stack and cause redacted', () => {
    const plain = new Error('connect ECONNREFUSED 127.0.0.1:9');
    expect(redactError(plain)).toBe(plain);
    const err = Object.assign(new TypeError('Request cannot be constructed from a URL that includes credentials: http://u:pw@h/x?token=t0k'), { code: 'ERR_X' });
    const r = redactError(err) as TypeError & { code: string };
    expect(r).not.toBe(err);
    expect(r.name).toBe('TypeError');
    expect(r.code).toBe('ERR_X');
    expect(r.message).toBe('Request cannot be constructed from a URL that includes credentials: http://***@h/x?token=***');
    expect(r.stack).not.toContain('pw');
    expect(r.stack).toContain('redact.test.ts');
    const caused = redactError(new Error('fetch failed', { cause: new Error('bad http://a:b@c/d') })) as Error;
    expect((caused.cause as Error).message).toBe('bad http://***@c/d');
    expect(redactError('see http://a:b@c/')).toBe('see http://***@c/');
  });
});

import { describe, expect, it } from 'vitest';
import { redact } from './redact.js';

describe('redact', () => {
  it('keeps hosts and plain paths, drops what looks like a credential', () => {
    expect(redact('http://127.0.0.1:43907/hook answered 500')).toBe(
      'http://127.0.0.1:43907/hook answered 500',
    );
    expect(
      redact('POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcDEF123ghiJKL456mnoPQR failed'),
    ).toBe('POST https://hooks.slack.com/services/T0123ABCD/B0456EFGH/… failed');
    expect(redact('https://ops:hunter2@lb.example.com/drain?token=s3cr3t&vm=web-01')).toBe(
      'https://…@lb.example.com/drain?token=…&vm=…',
    );
    expect(redact('sent Authorization: Bearer abc.def.ghi-123456')).toBe('sent Authorization: Bearer …');
    expect(redact(undefined)).toBeUndefined();
    expect(redact('no url here')).toBe('no url here');
    expect(redact('{"message":"Route POST:/services/T0/abcDEF123ghiJKL456mno not found"}')).toBe(
      '{"message":"Route POST:/services/T0/… not found"}',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { withSpan } from '../src/telemetry.ts';

// No OpenTelemetry SDK is registered in this file (each test file runs in its own process).
describe('spans without an OpenTelemetry SDK', () => {
  it('are non-recording no-ops that still run the work and pass its result and errors through', async () => {
    let recording: boolean | undefined;
    const result = await withSpan('hookbox.receive', { 'hookbox.source': 'stripe' }, async (span) => {
      recording = span.isRecording();
      span.setAttribute('hookbox.event_id', 'x');
      return 42;
    });
    expect(result).toBe(42);
    expect(recording).toBe(false);
    await expect(
      withSpan('hookbox.attempt', {}, async () => {
        throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
  });
});

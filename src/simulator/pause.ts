// Holding a metadata response (injected latency, a hang, Azure's enable delay) without holding the
// server: the wait ends early when the client hangs up or the simulator closes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';

export async function pause(ms: number, closing: AbortSignal, reply: FastifyReply): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  reply.raw.once('close', onClose);
  try {
    await sleep(ms, undefined, { signal: AbortSignal.any([closing, gone.signal]) });
  } catch {
    // aborted: carry on, the write goes nowhere if the client left
  } finally {
    reply.raw.off('close', onClose);
  }
}

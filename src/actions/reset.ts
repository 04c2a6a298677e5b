// `reset`: reinstall an instance's OS from its image (metadata-apis.md §5.2), as the original
// nightly timer did, through Tencent's official per-product SDK (tencentcloud-sdk-nodejs-cvm):
// ResetInstance with the same image unless `imageId` says otherwise, then optionally
// DescribeInstances until LatestOperationState is SUCCESS. Usable from any rule: event-driven
// now, from a cron trigger once that exists. A retry never reinstalls twice (see run()). A
// failure carries the cloud's error code and is retryable only when the code says trying again
// can help (RequestLimitExceeded, InternalError, an operation in progress), never for
// AuthFailure.* or InvalidInstanceId.*.
// Providers: tencent.
import http from 'node:http';
import https from 'node:https';
import type * as TencentCvm from 'tencentcloud-sdk-nodejs-cvm';
import { parseDuration } from '../core/time.js';
import { redact } from '../hub/redact.js';
import type { Action, ActionContext, ActionResult } from './action.js';
import { ActionConfigError } from './action.js';
import {
  call,
  CloudCallError,
  pollUntil,
  checkCredentials,
  checkEndpoint,
  checkInstanceFields,
  checkWaitFields,
  cloudCredentials,
  earlierOutputs,
  instanceIdFor,
  isBareHost,
  retryableCode,
} from './cloud-common.js';

type Cvm = InstanceType<typeof TencentCvm.cvm.v20170312.Client>;

const FIELDS = new Set([
  'provider',
  'region',
  'endpoint',
  'credentials',
  'instanceId',
  'instances',
  'imageId',
  'wait',
  'pollInterval',
]);
const CVM_INSTANCE = /^ins-[a-z0-9]{8}$/;
const IMAGE = /^img-[a-z0-9]{8}$/;
const REGION = /^[a-z]{2}-[a-z]+(-[a-z0-9]+)*$/;
const SIGNED_HOST = 'cvm.tencentcloudapi.com';

function fail(msg: string): never {
  throw new ActionConfigError(`reset: ${msg}`);
}

/**
 * The SDK signs for the service named by the endpoint's first label (`cvm.` → cvm). An endpoint
 * given as an address (the simulator, a private gateway) is still signed as cvm.tencentcloudapi.com
 * and the connection goes to the address given.
 */
async function cvmClient(params: Record<string, unknown>, region: string): Promise<Cvm> {
  const key = cloudCredentials('tencent', params.credentials);
  const httpProfile: Record<string, unknown> = { reqTimeout: 30 };
  if (typeof params.endpoint === 'string') {
    const url = new URL(params.endpoint);
    httpProfile.protocol = `${url.protocol}//`;
    httpProfile.endpoint = url.host;
    if (isBareHost(url.hostname)) {
      const address = url.hostname.replace(/^\[|\]$/g, '');
      const family = address.includes(':') ? 6 : 4;
      httpProfile.endpoint = `${SIGNED_HOST}${url.port ? `:${url.port}` : ''}`;
      const lookup = (_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
        options?.all
          ? cb(null, [{ address: address === 'localhost' ? '127.0.0.1' : address, family }])
          : cb(null, address === 'localhost' ? '127.0.0.1' : address, family);
      httpProfile.agent =
        url.protocol === 'https:'
          ? new https.Agent({ lookup } as https.AgentOptions)
          : new http.Agent({ lookup } as http.AgentOptions);
    }
  }
  // Loaded on first use, like the snapshot action's SDKs: a hub that never reinstalls never pays for it.
  const { cvm } = await import('tencentcloud-sdk-nodejs-cvm');
  return new cvm.v20170312.Client({
    credential: { secretId: key.id, secretKey: key.secret },
    region,
    profile: { httpProfile },
  });
}

/** A Tencent Cloud SDK error (code, httpCode) → its code, and whether a retry can help. */
function tencentError(name: string, err: unknown): CloudCallError {
  const e = err as { code?: string; httpCode?: number; message?: string };
  const code = e.code || undefined;
  const what = code ?? (e.httpCode ? `HTTP ${e.httpCode}` : 'no answer');
  return new CloudCallError(
    `${name}: ${what}: ${redact((e.message ?? String(err)).slice(0, 300))}`,
    retryableCode(code, e.httpCode),
    code,
  );
}

const send = <T>(name: string, fn: () => Promise<T>) => call(name, fn, tencentError);

async function latestOperation(cvm: Cvm, instanceId: string) {
  const res = await send('DescribeInstances', () => cvm.DescribeInstances({ InstanceIds: [instanceId] }));
  const i = res.InstanceSet?.[0];
  return {
    operation: i?.LatestOperation,
    state: i?.LatestOperationState,
    requestId: i?.LatestOperationRequestId,
    imageId: i?.ImageId,
  };
}

async function waitForReset(
  cvm: Cvm,
  ctx: ActionContext,
  instanceId: string,
  intervalMs: number,
): Promise<string | undefined> {
  const done = await pollUntil(ctx, intervalMs, 'the reinstall to finish', async () => {
    const op = await latestOperation(cvm, instanceId);
    if (op.operation === 'ResetInstance' && op.state === 'SUCCESS') return { imageId: op.imageId };
    if (op.operation === 'ResetInstance' && op.state === 'FAILED')
      throw new CloudCallError('ResetInstance: LatestOperationState FAILED', false, 'ResetFailed');
    return undefined;
  });
  return done.imageId;
}

export const resetAction: Action = {
  kind: 'reset',
  validate(params) {
    for (const k of Object.keys(params)) if (!FIELDS.has(k)) fail(`unknown field ${k}`);
    const provider = params.provider ?? 'tencent';
    if (provider !== 'tencent') fail(`provider must be tencent, not ${JSON.stringify(provider)}`);
    if (typeof params.region !== 'string' || !REGION.test(params.region))
      fail('region: required, a Tencent Cloud region such as ap-shanghai');
    checkEndpoint(params.endpoint, 'reset.endpoint');
    checkCredentials(params.credentials, 'reset.credentials');
    checkInstanceFields(params, 'reset');
    if (params.imageId !== undefined && (typeof params.imageId !== 'string' || !IMAGE.test(params.imageId)))
      fail('imageId: an image id such as img-abcd1234 (leave it out to reinstall the current image)');
    checkWaitFields(params, 'reset');
  },

  async run(ctx, params): Promise<ActionResult> {
    const instanceId = instanceIdFor(ctx, params, CVM_INSTANCE);
    if (!instanceId || !CVM_INSTANCE.test(instanceId))
      return {
        ok: false,
        retryable: false,
        detail: `reset: no CVM instance id (ins-…) for VM ${ctx.vm}: set instanceId or instances`,
      };
    const region = params.region as string;
    const imageId = params.imageId as string | undefined;
    const output: Record<string, unknown> = {
      provider: 'tencent',
      region,
      instanceId,
      imageId: imageId ?? 'current',
    };
    try {
      const cvm = await cvmClient(params, region);
      // ResetInstance takes no client token. A retry first reads what earlier attempts recorded:
      // one whose ResetInstance was accepted (it failed later, e.g. while waiting) is not repeated.
      // Without such a record, a reinstall still running is taken as an earlier call whose answer
      // was lost, not a reason to start another.
      const accepted = (await earlierOutputs(ctx)).find((o) => typeof o.requestId === 'string');
      const before = ctx.attempt > 1 && !accepted ? await latestOperation(cvm, instanceId) : undefined;
      if (accepted) {
        output.requestId = accepted.requestId;
        output.resumed = true;
      } else if (before?.operation === 'ResetInstance' && before.state === 'OPERATING') {
        output.requestId = before.requestId;
        output.resumed = true;
      } else {
        const res = await send('ResetInstance', () =>
          cvm.ResetInstance({ InstanceId: instanceId, ...(imageId ? { ImageId: imageId } : {}) }),
        );
        output.requestId = res.RequestId;
        ctx.log.info({ instanceId, region, requestId: res.RequestId }, 'ResetInstance accepted');
      }
      if (params.wait === true) {
        const interval = parseDuration((params.pollInterval as string | undefined) ?? '10s');
        output.imageId = (await waitForReset(cvm, ctx, instanceId, interval)) ?? output.imageId;
        output.state = 'SUCCESS';
      }
    } catch (err) {
      if (err instanceof ActionConfigError)
        return { ok: false, retryable: false, detail: err.message, output };
      const e =
        err instanceof CloudCallError ? err : new CloudCallError(`reset: ${(err as Error).message}`, true);
      return {
        ok: false,
        retryable: e.retryable,
        detail: e.message,
        output: { ...output, ...(e.code ? { code: e.code } : {}) },
      };
    }
    return {
      ok: true,
      detail: `ResetInstance ${instanceId} in ${region}${output.resumed ? ' (already running)' : ''}: request ${String(output.requestId)}${output.state ? ', done' : ''}`,
      output,
    };
  },
};

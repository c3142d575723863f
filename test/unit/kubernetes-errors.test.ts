import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { toApplicationFailure } from '../../activities/errors.js';
import {
  Conflict,
  Forbidden,
  Invalid,
  KubernetesRequestFailed,
  KubernetesUnavailable,
  NotFound,
  PreconditionFailed,
  Unauthorized,
  classifyKubeError,
  refusalsAsPreconditions,
  retryOnConflict,
  type KubeOperation,
} from '../../activities/kubernetes/errors.js';

const OP: KubeOperation = {
  verb: 'patch',
  resource: 'statefulsets.apps',
  context: 'target',
  side: 'target',
  namespace: 'db',
  name: 'etcd-main',
};

/** A client of a loopback "API server" on `port`, to get the client's own network errors. */
function loopbackClient(port: number): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // The client refuses plain HTTP unless told not to verify TLS.
    clusters: [{ name: 'loopback', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'anonymous' }],
    contexts: [{ name: 'loopback', cluster: 'loopback', user: 'anonymous' }],
    currentContext: 'loopback',
  });
  return kc.makeApiClient(CoreV1Api);
}

function apiError(code: number, status: object | undefined): ApiException<unknown> {
  return new ApiException(code, 'Unsuccessful HTTP Request', status && JSON.stringify(status), {
    authorization: 'Bearer must-never-leak',
  });
}

describe('Kubernetes error mapping', () => {
  it('Forbidden names the verb and resource the worker lacks, from the API server message', () => {
    const err = classifyKubeError(
      apiError(403, {
        kind: 'Status',
        reason: 'Forbidden',
        message:
          'statefulsets.apps "etcd-main" is forbidden: User "system:serviceaccount:db:etcd-stretch-worker" cannot patch resource "statefulsets" in API group "apps" in the namespace "db"',
      }),
      OP,
    );
    expect(err).toBeInstanceOf(Forbidden);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(
      /^Forbidden: the worker may not patch statefulsets\.apps "etcd-main" in namespace "db" of cluster target; grant it in deploy\/rbac-target\.yaml \(API server: statefulsets\.apps "etcd-main" is forbidden: User/,
    );
    expect(err.details).toMatchObject({
      verb: 'patch',
      resource: 'statefulsets.apps',
      namespace: 'db',
      code: 403,
    });
  });

  it('Invalid carries the API server message and its causes; not retryable', () => {
    const err = classifyKubeError(
      apiError(422, {
        reason: 'Invalid',
        message:
          'Service "9x-0-lb" is invalid: metadata.name: Invalid value: "9x-0-lb": a DNS-1035 label must ...',
        details: { causes: [{ field: 'metadata.name', message: 'Invalid value: "9x-0-lb"' }] },
      }),
      { ...OP, verb: 'patch', resource: 'services', name: '9x-0-lb' },
    );
    expect(err).toBeInstanceOf(Invalid);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(
      'the API server refused the request: Service "9x-0-lb" is invalid: metadata.name',
    );
    expect(err.details?.causes).toEqual(['metadata.name: Invalid value: "9x-0-lb"']);
  });

  it.each([
    [409, Conflict, true],
    [404, NotFound, false],
    [401, Unauthorized, false],
    [400, Invalid, false],
    [429, KubernetesUnavailable, true],
    [503, KubernetesUnavailable, true],
    [418, KubernetesRequestFailed, true],
  ] as const)('HTTP %i is %o (retryable %s)', (code, cls, retryable) => {
    const err = classifyKubeError(apiError(code, { message: 'x' }), OP);
    expect(err).toBeInstanceOf(cls);
    expect(err.retryable).toBe(retryable);
    expect(err.message).not.toContain('must-never-leak');
    const failure = toApplicationFailure(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(cls.type);
    expect(failure.nonRetryable).toBe(!retryable);
  });

  it('a connection failure is retryable KubernetesUnavailable; an unknown kind is NotFound', () => {
    const refused = Object.assign(new Error('request to https://127.0.0.1:26443 failed'), {
      code: 'ECONNREFUSED',
    });
    expect(classifyKubeError(refused, OP)).toBeInstanceOf(KubernetesUnavailable);
    expect(
      classifyKubeError(new Error('Unrecognized API version and kind: x.io/v1 Thing'), OP),
    ).toBeInstanceOf(NotFound);
  });

  it("the client's own failures, a closed connection and a refused one, are KubernetesUnavailable with the code", async () => {
    const closing = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve));
    const port = (closing.address() as net.AddressInfo).port;
    try {
      const closed = await loopbackClient(port)
        .readNamespace({ name: 'db' })
        .catch((e: unknown) => e);
      const typed = classifyKubeError(closed, OP);
      expect(typed).toBeInstanceOf(KubernetesUnavailable);
      expect(typed.details).toMatchObject({ network: 'UND_ERR_SOCKET' });
    } finally {
      await new Promise((resolve) => closing.close(resolve));
    }
    const refused = await loopbackClient(port)
      .readNamespace({ name: 'db' })
      .catch((e: unknown) => e);
    const typed = classifyKubeError(refused, OP);
    expect(typed).toBeInstanceOf(KubernetesUnavailable);
    expect(typed.details).toMatchObject({ network: 'ECONNREFUSED' });
  });

  it('retries a Conflict, then gives up with it', async () => {
    let n = 0;
    expect(
      await retryOnConflict(() => (++n < 3 ? Promise.reject(new Conflict('busy')) : Promise.resolve(n))),
    ).toBe(3);
    let tries = 0;
    await expect(
      retryOnConflict(() => {
        tries++;
        return Promise.reject(new Conflict('always'));
      }, 2),
    ).rejects.toBeInstanceOf(Conflict);
    expect(tries).toBe(2);
    await expect(retryOnConflict(() => Promise.reject(new NotFound('gone')))).rejects.toBeInstanceOf(
      NotFound,
    );
  });

  it('turns a refusal of the pure parts into a non-retryable PreconditionFailed', async () => {
    const render = Object.assign(new Error('no container runs etcd'), { name: 'RenderError' });
    const err = await refusalsAsPreconditions(() => Promise.reject(render)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionFailed);
    expect((err as PreconditionFailed).message).toBe('no container runs etcd');
    const other = new TypeError('bug');
    expect(await refusalsAsPreconditions(() => Promise.reject(other)).catch((e: unknown) => e)).toBe(other);
  });
});

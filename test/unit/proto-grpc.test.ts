import { credentials, Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthClient,
  HealthService,
  ServingStatus,
} from '../../src/gen/vxmesh/v1/health.js';
import type { HealthServer } from '../../src/gen/vxmesh/v1/health.js';

// Smoke test of the generated grpc-js service code over real HTTP/2 on loopback. Insecure
// credentials are acceptable only here: every real vxmesh channel uses mTLS.

const healthServer: HealthServer = {
  check: (call, callback) => {
    if (call.request.service === '') {
      callback(null, HealthCheckResponse.create({ status: ServingStatus.SERVING_STATUS_SERVING }));
    } else {
      callback({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
    }
  },
};

function check(client: HealthClient, request: HealthCheckRequest): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) => {
    client.check(request, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe('Health over grpc-js', () => {
  const server = new Server();
  let client: HealthClient;

  beforeAll(async () => {
    server.addService(HealthService, healthServer);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  it('answers Check with SERVING', async () => {
    const res = await check(client, HealthCheckRequest.create());
    expect(res.status).toBe(ServingStatus.SERVING_STATUS_SERVING);
  });

  it('carries a status code back for an unknown component', async () => {
    const err = await check(client, HealthCheckRequest.create({ service: 'nope' })).then(
      () => undefined,
      (e: unknown) => e as ServiceError,
    );
    expect(err?.code).toBe(status.NOT_FOUND);
  });
});

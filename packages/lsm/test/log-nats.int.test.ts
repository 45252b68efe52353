import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll } from 'vitest';
import { createJetStreamLog } from '@dataplane/lsm/nats';
import { logConformance } from './log-conformance.js';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
});
afterAll(async () => {
  await nc.drain();
});

const topic = () => `lsmtest_${Math.random().toString(36).slice(2)}`;
logConformance('jetstream durable', async (partitions) => createJetStreamLog({ connection: nc, topic: topic(), partitions, storage: 'memory' }));
logConformance('jetstream ordered', async (partitions) =>
  createJetStreamLog({ connection: nc, topic: topic(), partitions, consumer: 'ordered', storage: 'memory' }),
);

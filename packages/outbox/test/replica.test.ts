import { describe, expect, it } from 'vitest';
import { OutboxError, createMemoryReplicaStore, createReplica, type ChangeEvent } from '@dataplane/outbox';

const ev = (op: ChangeEvent['op'], lsn: string, row: Record<string, unknown> | null, table = 'customers'): ChangeEvent => ({
  op,
  before: op === 'd' ? row : null,
  after: op === 'd' ? null : row,
  key: ['id'],
  source: { lsn, txid: 1, schema: 'public', table, ts: 1_000, seq: 0 },
});

describe('Replica', () => {
  it('applies snapshot reads then changes, ignores other tables, and reports lag', async () => {
    let now = 5_000;
    const replica = createReplica({ store: createMemoryReplicaStore(), table: 'public.customers', clock: () => now });
    await replica.apply([ev('r', '0/10', { id: 1, name: 'a' }), ev('r', '0/10', { id: 2, name: 'b' })]);
    await replica.apply([ev('u', '0/20', { id: 1, name: 'A', tier: 'gold' }), ev('d', '0/30', { id: 2 }), ev('c', '0/40', { id: 9 }, 'orders')]);
    expect(await replica.get({ id: 1 })).toEqual({ id: 1, name: 'A', tier: 'gold' });
    expect(await replica.get({ id: 2 })).toBeUndefined();
    expect(replica.stats()).toMatchObject({ changesApplied: 4, changesIgnored: 1, lsn: '0/30', lagMs: 4_000 });
    now = 6_000;
    expect(replica.stats().lagMs).toBe(5_000);
  });

  it('keeps only chosen columns when asked', async () => {
    const replica = createReplica({ store: createMemoryReplicaStore(), table: 'customers', columns: ['id', 'name'] });
    await replica.apply([ev('c', '0/10', { id: 1, name: 'a', secret: 'x' })]);
    expect(await replica.all()).toEqual([{ id: 1, name: 'a' }]);
  });

  it('rejects changes without their key with a typed error', async () => {
    const replica = createReplica({ store: createMemoryReplicaStore(), table: 'customers', key: ['id'] });
    await expect(replica.apply([ev('c', '0/10', { name: 'no id' })])).rejects.toSatisfy((e: unknown) => OutboxError.is(e, 'OUTBOX_INVALID_EVENT'));
    expect(() => createReplica({ store: createMemoryReplicaStore(), table: 'a.b.c' })).toThrow(OutboxError);
  });
});

import fc from 'fast-check';
import { expect, it } from 'vitest';
import { createAdmissionController, LsmError, type AdmissionKind } from '@dataplane/lsm';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 200);

/** Reference model: per gate a boolean "open"; closes above limit, reopens at or below resumeAt. */
it('admits exactly when every applicable gate is open (reference model with hysteresis)', () => {
  const gateArb = fc.record({
    limit: fc.integer({ min: 1, max: 100 }),
    gap: fc.integer({ min: 0, max: 50 }),
    kinds: fc.constantFrom<AdmissionKind[]>(['write'], ['query'], ['write', 'query']),
  });
  const stepArb = fc.record({ gate: fc.nat(), value: fc.integer({ min: 0, max: 200 }), kind: fc.constantFrom<AdmissionKind>('write', 'query') });
  fc.assert(
    fc.property(fc.array(gateArb, { minLength: 1, maxLength: 4 }), fc.array(stepArb, { maxLength: 60 }), (gates, steps) => {
      const values = gates.map(() => 0);
      const open = gates.map(() => true);
      const refusedBy = gates.map(() => 0);
      const ac = createAdmissionController({
        sampleMs: 0,
        gates: gates.map((g, i) => ({ name: `g${i}`, limit: g.limit, resumeAt: g.limit - g.gap, read: () => values[i]!, appliesTo: g.kinds })),
      });
      let admitted = 0;
      for (const s of steps) {
        const i = s.gate % gates.length;
        values[i] = s.value;
        gates.forEach((g, j) => {
          if (open[j] && values[j]! > g.limit) open[j] = false;
          else if (!open[j] && values[j]! <= g.limit - g.gap) open[j] = true;
        });
        const blocker = gates.findIndex((g, j) => !open[j] && g.kinds.includes(s.kind));
        let ok = true;
        try {
          ac.admit(s.kind);
        } catch (e) {
          ok = false;
          expect(LsmError.is(e, 'LSM_OVERLOADED')).toBe(true);
          expect((e as LsmError).retryable).toBe(true);
          expect((e as LsmError).retryAfterMs).toBeGreaterThanOrEqual(1);
        }
        expect(ok).toBe(blocker === -1);
        if (ok) admitted++;
        else refusedBy[blocker]!++;
      }
      const st = ac.stats();
      expect(st.admitted).toBe(admitted);
      gates.forEach((_, j) => {
        expect(st.gates[`g${j}`]!.open).toBe(open[j]);
        expect(st.gates[`g${j}`]!.refused).toBe(refusedBy[j]);
      });
    }),
    { numRuns },
  );
});

import type * as GrpcJs from '@grpc/grpc-js';
import type { experimental as Experimental } from '@grpc/grpc-js';
import { BalancerError } from '../../errors.js';
import { createEndpointSet } from '../../endpoints/endpoint-set.js';
import type { EndpointSet } from '../../endpoints/types.js';
import { p2c, random, roundRobin, weighted } from '../../pickers/basic.js';
import { createPicker } from '../../pickers/create-picker.js';
import type { Picker, PickerFactory } from '../../pickers/types.js';
import { outlierAware } from '../../pickers/outlier-aware.js';
import { slowStart } from '../../pickers/slow-start.js';
import { zoneAware } from '../../pickers/zone-aware.js';
import { GRPC_POLICY_NAME } from './policy-name.js';
import type { GrpcPolicyConfig } from './policy-name.js';

type GrpcModule = typeof GrpcJs;
type LoadBalancer = Experimental.LoadBalancer;
type ChannelControlHelper = Experimental.ChannelControlHelper;
type TypedLoadBalancingConfig = Experimental.TypedLoadBalancingConfig;
type GrpcEndpoint = Experimental.Endpoint;
type LeafLoadBalancer = Experimental.LeafLoadBalancer;
type PickArgs = Experimental.PickArgs;
type PickResult = Experimental.PickResult;

/**
 * Options of {@link registerGrpcPolicy}.
 *
 * @since 0.1.0
 */
export interface RegisterGrpcPolicyOptions {
  /** The grpc-js module to register with (otherwise `import('@grpc/grpc-js')`). @defaultValue undefined */
  grpc?: GrpcModule | undefined;
  /** Called with each channel's live endpoint set (for metrics or tests). @defaultValue undefined */
  onEndpointSet?: ((set: EndpointSet, channelTarget: string) => void) | undefined;
  /** gRPC status codes counted as failures for outlier detection. @defaultValue UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS */
  failureCodes?: readonly number[] | undefined;
  /** Clock in ms for latencies and slow start. @defaultValue `Date.now` */
  clock?: (() => number) | undefined;
}

const PICKERS = ['p2c', 'peak-ewma', 'round-robin', 'random', 'weighted'] as const;

/** @internal Validates a policy config (service config or xDS TypedStruct value). */
export function parseGrpcPolicyConfig(obj: unknown): Required<Pick<GrpcPolicyConfig, 'picker' | 'slowStartWindowMs' | 'outlierDetection'>> & { localZone: string | undefined } {
  const o = (obj ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) throw new Error(`${GRPC_POLICY_NAME}: config must be an object`);
  const picker = (o.picker ?? 'p2c') as GrpcPolicyConfig['picker'];
  if (!PICKERS.includes(picker as (typeof PICKERS)[number])) throw new Error(`${GRPC_POLICY_NAME}: unknown picker ${String(picker)}`);
  const slow = o.slowStartWindowMs ?? 0;
  if (typeof slow !== 'number' || !(slow >= 0)) throw new Error(`${GRPC_POLICY_NAME}: slowStartWindowMs must be a number >= 0`);
  const od = o.outlierDetection ?? true;
  if (typeof od !== 'boolean') throw new Error(`${GRPC_POLICY_NAME}: outlierDetection must be a boolean`);
  const lz = o.localZone;
  if (lz !== undefined && typeof lz !== 'string') throw new Error(`${GRPC_POLICY_NAME}: localZone must be a string`);
  return { picker: picker!, slowStartWindowMs: slow, outlierDetection: od, localZone: lz };
}

function factoryFor(cfg: ReturnType<typeof parseGrpcPolicyConfig>): PickerFactory {
  let f: PickerFactory =
    cfg.picker === 'round-robin'
      ? roundRobin()
      : cfg.picker === 'random'
        ? random()
        : cfg.picker === 'weighted'
          ? weighted()
          : p2c({ load: cfg.picker === 'peak-ewma' ? 'peak-ewma' : 'least-request' });
  if (cfg.slowStartWindowMs > 0) f = slowStart(f, { windowMs: cfg.slowStartWindowMs });
  if (cfg.localZone !== undefined) f = zoneAware(f, { localZone: cfg.localZone });
  if (cfg.outlierDetection) f = outlierAware(f);
  return f;
}

let registered: Promise<void> | undefined;

/**
 * Registers the `dataplane_p2c` load-balancing policy with grpc-js (`experimental.registerLoadBalancerType`).
 * Each channel using it keeps one LeafLoadBalancer (a subchannel) per resolved endpoint, an {@link EndpointSet}
 * whose `ready` flags follow the subchannels' connectivity, and a picker from the config; every call's
 * `onCallStarted`/`onCallEnded` feed the set's in-flight counts, latency and outcome (by status code).
 * Select it with a service config `{"loadBalancingConfig":[{"dataplane_p2c":{"picker":"p2c"}}]}` or from an xDS
 * control plane with a CDS TypedStruct of type_url {@link GRPC_POLICY_TYPED_STRUCT_URL}.
 *
 * @remarks Idempotent: later calls return the first registration. Subchannels that are not READY are never picked.
 * @param opts - grpc-js module injection, observers, failure codes.
 * @returns when registered.
 * @throws BalancerError `BALANCER_DRIVER_MISSING` when @grpc/grpc-js is not installed.
 * @example
 * ```ts
 * import * as grpc from '@grpc/grpc-js';
 * import { registerGrpcPolicy, GRPC_POLICY_NAME } from '@dataplane/balancer/grpc';
 *
 * await registerGrpcPolicy({ grpc });
 * const options = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [GRPC_POLICY_NAME]: {} }] }) };
 * ```
 * @since 0.1.0
 */
export function registerGrpcPolicy(opts: RegisterGrpcPolicyOptions = {}): Promise<void> {
  registered ??= doRegister(opts).catch((err: unknown) => {
    registered = undefined;
    throw err;
  });
  return registered;
}

async function doRegister(opts: RegisterGrpcPolicyOptions): Promise<void> {
  let grpc = opts.grpc;
  if (grpc === undefined) {
    try {
      grpc = (await import('@grpc/grpc-js')) as GrpcModule;
    } catch (cause) {
      throw new BalancerError('BALANCER_DRIVER_MISSING', 'the grpc adapter needs @grpc/grpc-js: npm install @grpc/grpc-js', { cause });
    }
  }
  const { experimental, connectivityState } = grpc;
  const failureCodes = new Set(opts.failureCodes ?? [2, 4, 13, 14, 15]);
  const clock = opts.clock ?? Date.now;

  class Config implements TypedLoadBalancingConfig {
    constructor(readonly cfg: ReturnType<typeof parseGrpcPolicyConfig>) {}
    getLoadBalancerName(): string {
      return GRPC_POLICY_NAME;
    }
    toJsonObject(): object {
      return { [GRPC_POLICY_NAME]: { ...this.cfg } };
    }
    static createFromJson(obj: unknown): Config {
      return new Config(parseGrpcPolicyConfig(obj));
    }
  }

  class Policy implements LoadBalancer {
    private readonly set = createEndpointSet({ clock });
    private picker: Picker | undefined;
    private pickerKey = '';
    private readonly children = new Map<string, LeafLoadBalancer>();
    private readonly addressOf = new Map<string, string>();
    private readonly childHelper: ChannelControlHelper;
    private paused = false;
    private destroyed = false;

    constructor(private readonly helper: ChannelControlHelper) {
      this.childHelper = experimental.createChildChannelControlHelper(helper, {
        updateState: () => this.recompute(),
      });
      opts.onEndpointSet?.(this.set, '');
    }

    updateAddressList(
      endpoints: Experimental.StatusOr<GrpcEndpoint[]>,
      lbConfig: TypedLoadBalancingConfig,
      options: GrpcJs.ChannelOptions,
      resolutionNote: string,
    ): boolean {
      if (!(lbConfig instanceof Config)) return false;
      const key = JSON.stringify(lbConfig.cfg);
      if (this.picker === undefined || key !== this.pickerKey) {
        this.picker?.close();
        this.picker = createPicker(this.set, factoryFor(lbConfig.cfg), { panicThresholdPercent: 0 });
        this.pickerKey = key;
      }
      if (!endpoints.ok) {
        if (this.children.size === 0) {
          this.helper.updateState(
            connectivityState.TRANSIENT_FAILURE,
            new experimental.UnavailablePicker(endpoints.error),
            endpoints.error.details,
          );
        }
        return true;
      }
      this.paused = true;
      const seen = new Set<string>();
      for (const ep of endpoints.value) {
        const id = experimental.endpointToString(ep);
        seen.add(id);
        if (!this.children.has(id)) {
          const child = new experimental.LeafLoadBalancer(ep, this.childHelper, options, resolutionNote);
          this.children.set(id, child);
          const first = ep.addresses[0];
          this.addressOf.set(id, first === undefined ? id : experimental.subchannelAddressToString(first));
          child.startConnecting();
        }
      }
      for (const [id, child] of this.children) {
        if (!seen.has(id)) {
          child.destroy();
          this.children.delete(id);
          this.addressOf.delete(id);
        }
      }
      this.paused = false;
      this.recompute();
      return true;
    }

    private recompute(): void {
      if (this.paused || this.destroyed) return;
      const inputs = [];
      let ready = 0;
      let connecting = 0;
      for (const [id, child] of this.children) {
        const st = child.getConnectivityState();
        if (st === connectivityState.READY) ready++;
        else if (st === connectivityState.CONNECTING) connecting++;
        else if (st === connectivityState.IDLE) child.exitIdle();
        inputs.push({ id, address: this.addressOf.get(id) ?? id, ready: st === connectivityState.READY });
      }
      this.set.replaceAll(inputs);
      if (ready > 0) {
        this.helper.updateState(connectivityState.READY, this.channelPicker(), null);
      } else if (connecting > 0 || this.children.size === 0) {
        this.helper.updateState(connectivityState.CONNECTING, new experimental.QueuePicker(this), null);
      } else {
        const msg = `${GRPC_POLICY_NAME}: no endpoint is reachable`;
        this.helper.updateState(connectivityState.TRANSIENT_FAILURE, new experimental.UnavailablePicker({ details: msg }), msg);
      }
    }

    private channelPicker(): Experimental.Picker {
      const picker = this.picker!;
      const children = new Map<string, Experimental.Picker>();
      for (const [id, child] of this.children) children.set(id, child.getPicker());
      const set = this.set;
      const queue = new experimental.QueuePicker(this);
      return {
        pick(args: PickArgs): PickResult {
          const ep = picker.pick();
          const child = ep === undefined ? undefined : children.get(ep.id);
          if (ep === undefined || child === undefined) {
            return queue.pick(args);
          }
          const result = child.pick(args);
          if (result.pickResultType !== experimental.PickResultType.COMPLETE) return result;
          const id = ep.id;
          const startedCb = result.onCallStarted;
          const endedCb = result.onCallEnded;
          let started = 0;
          return {
            ...result,
            onCallStarted: () => {
              started = clock();
              set.onStart(id);
              startedCb?.();
            },
            onCallEnded: (code, details, metadata) => {
              set.onEnd(id, clock() - started, !failureCodes.has(code));
              endedCb?.(code, details, metadata);
            },
          };
        },
      };
    }

    exitIdle(): void {
      for (const child of this.children.values()) child.exitIdle();
    }
    resetBackoff(): void {
      // subchannels manage their own backoff
    }
    destroy(): void {
      this.destroyed = true;
      for (const child of this.children.values()) child.destroy();
      this.children.clear();
      this.picker?.close();
    }
    getTypeName(): string {
      return GRPC_POLICY_NAME;
    }
  }

  experimental.registerLoadBalancerType(GRPC_POLICY_NAME, Policy, Config);
}

/** The subset of Kubernetes `ObjectMeta` the watcher reads. */
export interface K8sObjectMeta {
  name?: string | undefined;
  namespace?: string | undefined;
  resourceVersion?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

/** The subset of a core/v1 Service the watcher reads. */
export interface K8sService {
  metadata?: K8sObjectMeta | undefined;
  spec?:
    | {
        type?: string | undefined;
        ports?: { name?: string | undefined; port?: number | undefined; protocol?: string | undefined }[] | undefined;
      }
    | undefined;
}

/** One endpoint of a discovery.k8s.io/v1 EndpointSlice. */
export interface K8sSliceEndpoint {
  addresses?: string[] | undefined;
  conditions?: { ready?: boolean | null | undefined; serving?: boolean | null | undefined; terminating?: boolean | null | undefined } | undefined;
  hostname?: string | undefined;
  nodeName?: string | undefined;
  zone?: string | undefined;
  targetRef?: { kind?: string | undefined; name?: string | undefined; namespace?: string | undefined } | undefined;
  hints?: { forZones?: { name?: string | undefined }[] | undefined; forNodes?: { name?: string | undefined }[] | undefined } | undefined;
}

/** The subset of a discovery.k8s.io/v1 EndpointSlice the watcher reads. */
export interface K8sEndpointSlice {
  metadata?: K8sObjectMeta | undefined;
  addressType?: string | undefined;
  endpoints?: K8sSliceEndpoint[] | null | undefined;
  ports?: { name?: string | null | undefined; port?: number | null | undefined; protocol?: string | undefined }[] | null | undefined;
}

/** A watch event as the API server streams it (one JSON object per line). */
export interface K8sWatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T & { code?: number | undefined; reason?: string | undefined; message?: string | undefined };
}

/**
 * How to reach the Kubernetes API server.
 *
 * @since 0.1.0
 */
export interface K8sConnection {
  /** Base URL of the API server (`https://10.0.0.1:6443`). */
  server: string;
  /** Extra request headers (typically `Authorization: Bearer <token>`). @defaultValue `{}` */
  headers?: Record<string, string> | undefined;
  /** CA bundle (PEM) for TLS. @defaultValue the system CAs */
  ca?: string | Buffer | undefined;
  /** Client certificate (PEM). @defaultValue undefined */
  cert?: string | Buffer | undefined;
  /** Client key (PEM). @defaultValue undefined */
  key?: string | Buffer | undefined;
  /** Verify the server certificate. @defaultValue true */
  rejectUnauthorized?: boolean | undefined;
}
